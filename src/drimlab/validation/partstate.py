"""The running state of one body part while a response streams, and its record in a Report.

Only the part's first bytes are kept (for the DICOM header parse); the rest is hashed and,
when an IOD checker was injected, handed to it as it streams.
"""

from __future__ import annotations

import hashlib

from drimlab.validation.report import PartRecord
from drimlab.validation.subjects import CheckerStream, PartFacts

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
    ):
        self.index = index
        self.headers = headers
        self.hasher = hashlib.sha256()
        self.size = 0
        self.prefix = bytearray()
        self.capped = False
        self.extended = False
        self.checker = checker

    def add(self, data: bytes | memoryview) -> None:
        self.hasher.update(data)
        self.size += len(data)
        if self.checker is not None:
            self.checker.write(data)
        self._collect(data)

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
