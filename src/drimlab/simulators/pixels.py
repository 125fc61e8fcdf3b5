"""Where an instance's pixel data lies in its file, so frames and bulk data stream from disk.

The simulated source keeps every instance in Explicit VR Little Endian beside its other
encodings; in that file the Pixel Data element is native (not encapsulated), so frame N is the
N-th slice of its value. `locate_pixels` reads the header only (pydicom stops before the pixel
data) and the element's own 12-byte header, and returns the value's offset and length: a
response then sends the listed frames with `sendfile` or in chunks, never holding the pixel
data in memory.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.uid import ExplicitVRLittleEndian

PIXEL_DATA_TAG = (0x7FE0, 0x0010)
LONG_VRS = (b"OB", b"OW")
UNDEFINED_LENGTH = 0xFFFFFFFF


@dataclass(frozen=True)
class PixelLocation:
    """The native pixel data of one instance: its file, offset, length and frame count."""

    path: Path
    offset: int
    length: int
    frames: int

    @property
    def frame_size(self) -> int:
        return self.length // max(self.frames, 1)

    def frame(self, number: int) -> tuple[int, int]:
        """(offset, size) of frame `number` (1-based) in the file."""
        size = self.frame_size
        return self.offset + (number - 1) * size, size


def locate_pixels(path: Path) -> PixelLocation | None:
    """The pixel data of the Explicit VR Little Endian file at `path` (None when it has none)."""
    with path.open("rb") as handle:
        ds = pydicom.dcmread(handle, stop_before_pixels=True)
        if str(ds.file_meta.get("TransferSyntaxUID", "")) != ExplicitVRLittleEndian:
            return None
        start = handle.tell()
        head = handle.read(12)
    if len(head) < 12 or struct.unpack("<HH", head[:4]) != PIXEL_DATA_TAG:
        return None
    if head[4:6] not in LONG_VRS:
        return None
    (length,) = struct.unpack("<I", head[8:12])
    if length == UNDEFINED_LENGTH:
        return None  # encapsulated: not the native encoding
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return PixelLocation(path, start + 12, length, max(frames, 1))
