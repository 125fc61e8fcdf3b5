"""The byte structure of a DICOM Part 10 file: where it is cut short or damaged, in one line.

pydicom reads a file cut inside an undefined-length sequence without complaint (the sequence
just ends), and reports damaged bytes as whatever value they happen to form; dciodvfy then
lists twenty errors about missing attributes. `structure_problem` walks the encoded elements
(tags, VRs, lengths, items and delimiters, nested sequences) and names the first place where the
bytes cannot be a DICOM data set:

    structure_problem(data[:1850])
    # 'truncated DICOM: the file ends at offset 1850 inside (0040,A730) (sequence opened at
    #  offset 1203; no sequence delimiter)'
    structure_problem(damaged)
    # 'corrupt DICOM at offset 433: (0040,A050) has no valid VR (bytes 43 09)'

It looks at structure only; values are pydicom's and the rules' business. A file cut exactly
between two top-level elements is a shorter but well-formed data set: the rules report what it
lacks.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from pydicom.datadict import dictionary_VR, keyword_for_tag

PREAMBLE = 128
MAGIC = b"DICM"
UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
MAX_DEPTH = 64
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"})
SHORT_VRS = frozenset(
    {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "PN", "SH", "SL",
     "SS", "ST", "TM", "UI", "UL", "US"}
)  # fmt: skip


class StructureError(Exception):
    """Where and why the bytes stop being a DICOM data set (the message is one line)."""


def _tag(tag: int) -> str:
    keyword = keyword_for_tag(tag) if tag >> 16 != 0xFFFE else ""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X}){' ' + keyword if keyword else ''}"


@dataclass
class _Walker:
    data: bytes
    explicit: bool
    little: bool
    where: str = ""  # "" for the file itself, " of the inflated data set" when deflated

    def _u16(self, at: int) -> int:
        value: int = struct.unpack_from("<H" if self.little else ">H", self.data, at)[0]
        return value

    def _u32(self, at: int) -> int:
        value: int = struct.unpack_from("<I" if self.little else ">I", self.data, at)[0]
        return value

    def tag_at(self, at: int) -> int:
        return (self._u16(at) << 16) | self._u16(at + 2)

    def _cut(self, what: str) -> StructureError:
        return StructureError(
            f"truncated DICOM: the file ends at offset {len(self.data)}{self.where} {what}"
        )

    def _need(self, at: int, size: int, end: int, what: str) -> None:
        if at + size <= end:
            return
        if end >= len(self.data):
            raise self._cut(what)
        raise StructureError(
            f"corrupt DICOM at offset {at}{self.where}: {what} runs past the end of its item "
            f"(offset {end})"
        )

    def dataset(self, at: int, end: int, depth: int, until_item_end: bool) -> int:
        """Walk elements from `at` to `end` (or to an item delimiter); return where it stopped."""
        previous = -1
        while at < end:
            self._need(at, 8, end, "inside an element header")
            tag = self.tag_at(at)
            if tag == ITEM_END and until_item_end:
                return at + 8
            if tag >> 16 == 0xFFFE:
                raise StructureError(
                    f"corrupt DICOM at offset {at}{self.where}: {_tag(tag)} where an element "
                    "was expected"
                )
            if tag <= previous:
                raise StructureError(
                    f"corrupt DICOM at offset {at}{self.where}: {_tag(tag)} after "
                    f"{_tag(previous)} (tags out of order)"
                )
            previous = tag
            at = self.element(at, tag, end, depth)
        if until_item_end:
            if end >= len(self.data):
                raise self._cut("inside an item (no item delimiter)")
            raise StructureError(
                f"corrupt DICOM at offset {at}{self.where}: an item without its delimiter"
            )
        return at

    def element(self, at: int, tag: int, end: int, depth: int) -> int:
        start = at
        vr = ""
        if self.explicit:
            raw = self.data[at + 4 : at + 6]
            vr = raw.decode("latin-1")
            if vr not in LONG_VRS and vr not in SHORT_VRS:
                raise StructureError(
                    f"corrupt DICOM at offset {at}{self.where}: {_tag(tag)} has no valid VR "
                    f"(bytes {raw.hex(' ')})"
                )
            if vr in LONG_VRS:
                self._need(at, 12, end, f"inside the header of {_tag(tag)}")
                length, at = self._u32(at + 8), at + 12
            else:
                length, at = self._u16(at + 6), at + 8
        else:
            length, at = self._u32(at + 4), at + 8
            try:
                vr = dictionary_VR(tag)
            except KeyError:
                vr = "UN"
        if length == UNDEFINED:
            if self.explicit and vr not in ("SQ", "UN", "OB", "OW"):
                raise StructureError(
                    f"corrupt DICOM at offset {start}{self.where}: {_tag(tag)} ({vr}) cannot "
                    "have an undefined length"
                )
            fragments = tag == PIXEL_DATA and vr in ("OB", "OW")
            # an undefined-length UN holds a sequence encoded in Implicit VR Little Endian
            walker = _Walker(self.data, False, True, self.where) if vr == "UN" else self
            return walker.sequence(at, end, depth + 1, tag, start, fragments=fragments)
        if length > len(self.data) - at and end >= len(self.data):
            raise StructureError(
                f"truncated DICOM: the file ends at offset {len(self.data)}{self.where} inside "
                f"{_tag(tag)} (offset {start}), which declares {length} bytes"
            )
        self._need(at, length, end, f"{_tag(tag)} (offset {start}, {length} bytes)")
        if vr == "SQ":
            self.sequence(at, at + length, depth + 1, tag, start, fragments=False, bounded=True)
        return at + length

    def sequence(
        self,
        at: int,
        end: int,
        depth: int,
        tag: int,
        opened: int,
        *,
        fragments: bool,
        bounded: bool = False,
    ) -> int:
        """Items until the sequence delimiter (or the end of a defined-length sequence)."""
        if depth > MAX_DEPTH:
            raise StructureError(
                f"corrupt DICOM at offset {opened}{self.where}: sequences nested deeper than "
                f"{MAX_DEPTH}"
            )
        inside = f"inside {_tag(tag)} (sequence opened at offset {opened}"
        while True:
            if bounded and at == end:
                return at
            if at + 8 > end:
                if end >= len(self.data):
                    raise self._cut(f"{inside}; no sequence delimiter)")
                raise StructureError(
                    f"corrupt DICOM at offset {at}{self.where}: {_tag(tag)} runs past the end "
                    f"of its item (offset {end})"
                )
            item, length = self.tag_at(at), self._u32(at + 4)
            if item == SEQUENCE_END and not bounded:
                return at + 8
            if item != ITEM:
                raise StructureError(
                    f"corrupt DICOM at offset {at}{self.where}: {_tag(item)} in {_tag(tag)} "
                    "where an item was expected"
                )
            at += 8
            if fragments:
                self._need(at, length, end, f"a fragment of {_tag(tag)} ({length} bytes)")
                at += length
            elif length == UNDEFINED:
                at = self.dataset(at, end, depth, until_item_end=True)
            else:
                self._need(at, length, end, f"an item of {_tag(tag)} ({length} bytes)")
                self.dataset(at, at + length, depth, until_item_end=False)
                at += length


def _meta(data: bytes) -> tuple[str, int]:
    """The transfer syntax named in the File Meta group, and where the data set starts."""
    walker = _Walker(data, explicit=True, little=True)
    at, syntax = PREAMBLE + len(MAGIC), ""
    while at + 8 <= len(data) and data[at : at + 2] == b"\x02\x00":
        tag = walker.tag_at(at)
        next_at = walker.element(at, tag, len(data), 0)
        if tag == 0x00020010:
            header = 12 if data[at + 4 : at + 6].decode("latin-1") in LONG_VRS else 8
            syntax = data[at + header : next_at].decode("ascii", "replace").strip("\x00 ")
        at = next_at
    return syntax, at


def structure_problem(data: bytes) -> str | None:
    """The first structural fault of a Part 10 file (one line), or None when it is sound."""
    if len(data) < PREAMBLE + len(MAGIC) or data[PREAMBLE : PREAMBLE + len(MAGIC)] != MAGIC:
        return None  # not Part 10: the reader says so
    try:
        syntax, start = _meta(data)
        if syntax in DEFLATED:
            try:
                inflated = zlib.decompress(data[start:], -zlib.MAX_WBITS)
            except zlib.error as exc:
                return f"corrupt DICOM at offset {start}: the deflated data set ({exc})"
            walker = _Walker(inflated, True, True, " of the inflated data set")
            walker.dataset(0, len(inflated), 0, until_item_end=False)
            return None
        walker = _Walker(data, explicit=syntax != IMPLICIT_LE, little=syntax != EXPLICIT_BE)
        walker.dataset(start, len(data), 0, until_item_end=False)
    except StructureError as exc:
        return str(exc)
    return None
