"""A KOS as the `KOS` rules see it: the parsed dataset, where it came from, dciodvfy's verdict."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydicom import Dataset

from drimlab import dciodvfy
from drimlab.datasets.kos_read import load_dataset
from drimlab.dciodvfy import DciodvfyResult
from drimlab.errors import InputError


@contextmanager
def quiet_values() -> Iterator[None]:
    """Silence pydicom's warnings on invalid values: the rules and dciodvfy report them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def parse_fully(source: Path | bytes, label: str) -> Dataset:
    """Parse a Part 10 file and every nested value now, so rules never meet a lazy failure."""
    with quiet_values():
        dataset = load_dataset(source, label)
        try:
            meta = getattr(dataset, "file_meta", None)
            for element in (*(meta.iterall() if meta is not None else ()), *dataset.iterall()):
                _ = element.value
        except Exception as exc:  # pydicom raises many types on damaged input
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{label}: unreadable DICOM file ({reason})") from None
    return dataset


@dataclass(frozen=True)
class KosDocument:
    """One KOS under validation; `checker` is None when dciodvfy was not run."""

    label: str
    dataset: Dataset
    checker: DciodvfyResult | None


def load_kos_document(
    source: Path | bytes, *, label: str | None = None, run_checker: bool = True
) -> KosDocument:
    """Parse a Part 10 file (path or bytes) and run dciodvfy on it when installed.

    A file that is not DICOM at all is an InputError; anything DICOM is left to the rules.
    """
    name = label or (str(source) if isinstance(source, Path) else "<bytes>")
    dataset = parse_fully(source, name)
    checker: DciodvfyResult | None = None
    if run_checker and dciodvfy.available():
        if isinstance(source, Path):
            checker = dciodvfy.run_dciodvfy(source)
        else:
            with tempfile.TemporaryDirectory(prefix="drimlab-kos-") as folder:
                spool = Path(folder) / "kos.dcm"
                spool.write_bytes(source)
                checker = dciodvfy.run_dciodvfy(spool)
    return KosDocument(label=name, dataset=dataset, checker=checker)
