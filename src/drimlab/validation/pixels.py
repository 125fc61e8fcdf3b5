"""Pixel data a viewer can show: decode each part with the codec its transfer syntax names.

The streaming validator keeps only a header prefix of each part; to decode, a part is also
spooled (`PixelSpool`: in memory up to `SPOOL_MEMORY`, then a temporary file), so memory stays
bounded whatever the part's size. `decode_pixels` then reads the spooled part frame by frame
with pydicom's decoders (the plug-ins the datasets are encoded with: pylibjpeg, openjpeg,
pylibjpeg-rle, pyjpegls, Pillow) and records `PixelFacts`: whether each frame decodes, how many
frames there are against Number of Frames, and whether uncompressed pixel data has the length
Rows, Columns, Samples per Pixel and Bits Allocated give. Only the DICOM-011/012 rules judge them.

`PixelSampler` bounds the work on huge studies (`--pixel-sample N`): the first ceil(N/2)
parts, then parts at doubling distances (h, 2h, 4h, ... with h = ceil(N/2)), N in all, so
the beginning, the middle and the end of a large retrieval are all looked at.
"""

from __future__ import annotations

import struct
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, cast

from pydicom import dcmread
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.utils import iter_pixels
from pydicom.uid import UID

SPOOL_MEMORY = 16 * 1024 * 1024
#: The rules that need decoded pixels: without them in the selection nothing is decoded.
PIXEL_RULES = ("DICOM-011", "DICOM-012")
_UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class PixelFacts:
    """What decoding one part's pixel data found (only parts that have Pixel Data)."""

    transfer_syntax: str
    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    frames_expected: int
    frames_decoded: int = 0
    decoded: bool = False
    not_decoded: str | None = None  # why decoding was not attempted (no codec installed)
    error: str | None = None  # the decoder's failure
    geometry: tuple[str, ...] = ()  # frame count or size that disagrees with the attributes
    seconds: float = 0.0
    size: int = 0


class PixelSpool:
    """The bytes of one part kept for decoding: in memory, then on disk past SPOOL_MEMORY."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        self.file.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.file.close()


class PixelSampler:
    """Which parts of a response to decode: every one, or N spread over the response."""

    def __init__(self, sample: int | None = None) -> None:
        self.sample = sample
        self.head = max(1, -(-sample // 2)) if sample else 1
        self.chosen = 0
        self.seen = 0

    def wants(self, index: int) -> bool:
        """Whether the part at `index` (0-based, in arrival order) is to be decoded."""
        self.seen += 1
        if self.sample is None:
            self.chosen += 1
            return True
        if self.chosen >= self.sample:
            return False
        step, rest = divmod(index, self.head)
        if index < self.head or (rest == 0 and step & (step - 1) == 0):
            self.chosen += 1
            return True
        return False


def _int(value: Any, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _pixel_element_length(source: IO[bytes], explicit: bool, little: bool) -> int | None:
    """The value length of the Pixel Data element the source is positioned at (None: none)."""
    head = source.read(12 if explicit else 8)
    order = "<" if little else ">"
    if len(head) < 8 or struct.unpack(f"{order}HH", head[:4]) != (0x7FE0, 0x0010):
        return None
    if not explicit:
        return int(struct.unpack(f"{order}L", head[4:8])[0])
    if len(head) == 12 and head[4:6] in (b"OB", b"OW", b"UN"):
        return int(struct.unpack(f"{order}L", head[8:12])[0])
    return None


def _native_length(rows: int, columns: int, samples: int, bits: int, frames: int) -> int:
    pixels = rows * columns * samples * frames
    return (pixels + 7) // 8 if bits == 1 else pixels * ((bits + 7) // 8)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {' / '.join(lines)[:300]}" if lines else type(exc).__name__


def decode_pixels(source: IO[bytes], size: int) -> PixelFacts | None:
    """Decode the spooled Part 10 file frame by frame; None when it has no Pixel Data."""
    source.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parser notes are DICOM-009's; only failures count
        try:
            header = dcmread(source, stop_before_pixels=True, force=True)
            syntax = UID(str(header.file_meta.get("TransferSyntaxUID", "")))
            if syntax.is_deflated:
                length: int | None = _UNDEFINED  # the element cannot be seen before inflating
            else:
                length = _pixel_element_length(
                    source, not syntax.is_implicit_VR, syntax.is_little_endian
                )
        except Exception:  # an unreadable header is DICOM-004's to report
            return None
        if length is None:
            return None
        facts = PixelFacts(
            transfer_syntax=str(syntax),
            rows=_int(header.get("Rows"), 0),
            columns=_int(header.get("Columns"), 0),
            samples_per_pixel=_int(header.get("SamplesPerPixel"), 1),
            bits_allocated=_int(header.get("BitsAllocated"), 0),
            frames_expected=_int(header.get("NumberOfFrames"), 1),
            size=size,
        )
        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            return _not_decoded(facts, f"no pixel data decoder exists for {syntax.name}")
        if not decoder.is_available:
            return _not_decoded(facts, f"no decoder plug-in for {syntax.name} is installed")
        geometry: list[str] = []
        if length != _UNDEFINED and not syntax.is_encapsulated:
            wanted = _native_length(
                facts.rows,
                facts.columns,
                facts.samples_per_pixel,
                facts.bits_allocated,
                facts.frames_expected,
            )
            if length not in (wanted, wanted + (wanted % 2)):
                geometry.append(
                    f"Pixel Data holds {length} bytes; Rows {facts.rows} x Columns "
                    f"{facts.columns} x Samples per Pixel {facts.samples_per_pixel} x Bits "
                    f"Allocated {facts.bits_allocated} x Number of Frames "
                    f"{facts.frames_expected} give {wanted}"
                )
        return _decode_frames(source, facts, geometry)


def _not_decoded(facts: PixelFacts, why: str) -> PixelFacts:
    return PixelFacts(**{**facts.__dict__, "not_decoded": why})


def _decode_frames(source: IO[bytes], facts: PixelFacts, geometry: list[str]) -> PixelFacts:
    started = time.perf_counter()
    frames = 0
    error: str | None = None
    source.seek(0)
    try:
        for frame in iter_pixels(cast(BinaryIO, source)):
            frames += 1
            expected: tuple[int, ...] = (facts.rows, facts.columns)
            if facts.samples_per_pixel > 1:
                expected += (facts.samples_per_pixel,)
            if tuple(frame.shape) != expected:
                geometry.append(f"frame {frames} decodes to {frame.shape}, expected {expected}")
                break
    except ValueError as exc:
        if "reshape" in str(exc):
            geometry.append(
                f"frame {frames + 1} does not have Rows {facts.rows} x Columns {facts.columns} "
                f"x Samples per Pixel {facts.samples_per_pixel} samples ({_first_line(exc)})"
            )
        else:
            error = f"frame {frames + 1}: {_first_line(exc)}"
    except Exception as exc:  # a damaged codestream may break a codec in any way
        error = f"frame {frames + 1}: {_first_line(exc)}"
    if error is None and not geometry and frames != facts.frames_expected:
        geometry.append(
            f"{frames} frame(s) in the pixel data, Number of Frames says {facts.frames_expected}"
        )
    return PixelFacts(
        **{
            **facts.__dict__,
            "frames_decoded": frames,
            "decoded": error is None and not geometry,
            "error": error,
            "geometry": tuple(geometry),
            "seconds": time.perf_counter() - started,
        }
    )


__all__ = [
    "PIXEL_RULES",
    "SPOOL_MEMORY",
    "PixelFacts",
    "PixelSampler",
    "PixelSpool",
    "decode_pixels",
]
