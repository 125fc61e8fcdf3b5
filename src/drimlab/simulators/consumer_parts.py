"""Where the client simulator puts what streams in: parts to disk, counters for progress."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from drimlab.dicomweb.multipart import Event, PartData, PartEnd, PartStart
from drimlab.errors import InputError
from drimlab.validation.report import Report

Progress = Callable[[int, int], None]


class PartKeeper:
    """A part sink writing each part to `folder` as it streams, named by index until known."""

    def __init__(self, folder: Path, progress: Callable[[int], None] | None = None) -> None:
        self.folder = folder
        self.files: dict[int, Path] = {}
        self._out: IO[bytes] | None = None
        self._progress = progress
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {folder}: {exc.strerror or exc}") from None

    def __call__(self, event: Event) -> None:
        if isinstance(event, PartStart):
            path = self.folder / f".part-{event.index:05d}.partial"
            self._out = path.open("wb")
            self.files[event.index] = path
        elif isinstance(event, PartData) and self._out is not None:
            self._out.write(event.data)
        elif isinstance(event, PartEnd) and self._out is not None:
            self._out.close()
            self._out = None

    def finish(self, report: Report) -> dict[int, Path]:
        """Rename complete parts to `<SOPInstanceUID>.dcm`; drop incomplete ones."""
        if self._out is not None:
            self._out.close()
            self._out = None
        kept: dict[int, Path] = {}
        for part in report.parts:
            temp = self.files.get(part.index)
            if temp is None or not temp.exists():
                continue
            name = part.sop_instance_uid if part.sop_instance_uid else f"part-{part.index:05d}"
            final = self.folder / f"{name}.dcm"
            if final.exists():
                final = self.folder / f"{name}.{part.index:05d}.dcm"
            os.replace(temp, final)
            kept[part.index] = final
        for temp in self.files.values():
            temp.unlink(missing_ok=True)
        return kept


@dataclass
class PartCounter:
    """Counts parts and bytes as they stream, for a progress callback."""

    parts: int = 0
    bytes: int = 0
    callback: Progress | None = None

    def sink(self, event: Event) -> None:
        if isinstance(event, PartData):
            self.bytes += len(event.data)
        elif isinstance(event, PartEnd):
            self.parts += 1
        if self.callback is not None and isinstance(event, PartEnd | PartData):
            self.callback(self.parts, self.bytes)
