"""The running state of one body part while a response streams, and its record in a Report.

Only the part's first bytes are kept (for the DICOM header parse); the rest is hashed and,
when an IOD checker was injected, handed to it as it streams. A part chosen for pixel decoding
is also spooled (`pixels.PixelSpool`, bounded memory) and decoded when it ends.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from drimlab.validation.pixels import PIXEL_RULES, PixelSampler, PixelSpool, decode_pixels
from drimlab.validation.report import PartRecord
from drimlab.validation.subjects import CheckerStream, PartFacts, ToolMessage, read_part10_header

if TYPE_CHECKING:
    from drimlab.validation.assess import Selection

HEADER_CAP = 1024 * 1024
QUICK_CAP = 64 * 1024
# Pixel Data, Float and Double Float Pixel Data tags, little and big endian: once one is in
# the first QUICK_CAP bytes the header is (almost surely) complete, so collecting stops there.
_PIXEL_TAGS = tuple(
    bytes.fromhex(h)
    for h in ("e07f1000", "e07f0800", "e07f0900", "7fe00010", "7fe00008", "7fe00009")
)


class PartState:
    """The running state of the part being received."""

    def __init__(
        self,
        index: int,
        headers: tuple[tuple[str, str], ...],
        checker: CheckerStream | None = None,
        *,
        spool: bool = False,
    ):
        self.index = index
        self.headers = headers
        self.hasher = hashlib.sha256()
        self.size = 0
        self.prefix = bytearray()
        self.capped = False
        self.extended = False
        self.checker = checker
        self.spool = PixelSpool() if spool else None

    def add(self, data: bytes | memoryview) -> None:
        self.hasher.update(data)
        self.size += len(data)
        if self.checker is not None:
            self.checker.write(data)
        if self.spool is not None:
            self.spool.write(data)
        self._collect(data)

    def finish(self, *, complete: bool) -> PartFacts:
        """The part's facts: header parse, the IOD checker's verdict, its decoded pixels."""
        dicom = read_part10_header(bytes(self.prefix), truncated=self.capped)
        errors: tuple[ToolMessage, ...] | None = None
        warnings: tuple[ToolMessage, ...] = ()
        if self.checker is not None:
            verdict = self.checker.finish()
            errors, warnings = verdict.errors, verdict.warnings
        pixels = None
        if self.spool is not None:
            try:
                if complete and dicom.parse_error is None:
                    pixels = decode_pixels(self.spool.file, self.spool.size)
            finally:
                self.discard()
        return PartFacts(
            index=self.index,
            headers=self.headers,
            size=self.size,
            sha256=self.hasher.hexdigest(),
            dicom=dicom,
            complete=complete,
            checker_errors=errors,
            checker_warnings=warnings,
            pixels=pixels,
        )

    def discard(self) -> None:
        """Drop the spooled copy (a part cut short, or the validation given up)."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def _collect(self, data: bytes | memoryview) -> None:
        """Keep the part's first bytes: QUICK_CAP, or up to HEADER_CAP if no pixel tag yet."""
        if self.capped:
            return
        room = (HEADER_CAP if self.extended else QUICK_CAP) - len(self.prefix)
        if len(data) <= room:
            self.prefix += data
            return
        self.prefix += data[:room]
        if not self.extended and not any(t in self.prefix for t in _PIXEL_TAGS):
            self.extended = True
            self._collect(data[room:])
        else:
            # Bytes are dropped from here on; a false pixel-tag match only shortens the
            # parse, which then reports "not checked", never a fault.
            self.capped = True


def part_record(part: PartFacts) -> PartRecord:
    """The Report's record of a part."""
    return PartRecord(
        index=part.index,
        size=part.size,
        sha256=part.sha256,
        content_type=part.content_type_text,
        sop_class_uid=part.dicom.sop_class_uid,
        sop_instance_uid=part.dicom.sop_instance_uid,
        study_instance_uid=part.dicom.study_instance_uid,
        series_instance_uid=part.dicom.series_instance_uid,
        transfer_syntax_uid=part.dicom.transfer_syntax_uid,
    )


def pixel_sampler(selection: Selection) -> PixelSampler | None:
    """Which parts to decode under this selection (None: no decoding at all).

    Decoding runs when the selection holds a pixel rule and either its profile decodes by
    default (`drim-m`) or `--pixel-sample N` (N > 0) asks for it; N bounds the parts decoded.
    """
    if not any(rule.code in PIXEL_RULES for rule in selection.rules):
        return None
    sample = selection.pixel_sample
    if sample == 0 or (sample is None and not selection.profile.decode_pixels):
        return None
    return PixelSampler(sample)


def pixel_summary(parts: Sequence[PartFacts], sampler: PixelSampler) -> dict[str, Any]:
    """The Report's account of the decoding work: parts decoded, not decoded, time, bytes."""
    looked = [p.pixels for p in parts if p.pixels is not None]
    return {
        "sample": sampler.sample,
        "parts": len(parts),
        "parts_with_pixel_data_decoded": sum(1 for p in looked if p.not_decoded is None),
        "parts_not_decodable_here": sum(1 for p in looked if p.not_decoded is not None),
        "frames_decoded": sum(p.frames_decoded for p in looked),
        "bytes": sum(p.size for p in looked if p.not_decoded is None),
        "seconds": round(sum(p.seconds for p in looked), 6),
    }
