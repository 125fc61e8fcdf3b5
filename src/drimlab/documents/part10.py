"""Reading a DICOM Part 10 file whole and now, so a damaged value is a one-line InputError.

A file cut short or with damaged structure (see `part10_structure`) is refused first, naming
the offset, rather than read as far as pydicom gets and judged as a document missing half its
attributes.

pydicom converts values lazily, on first access: a rule could then meet a failure deep in a
sequence. `read_dataset` touches every value while it reads, so a document either loads
completely or is refused at the edge.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from pydicom import Dataset, dcmread
from pydicom.errors import InvalidDicomError

from drimlab.documents.part10_structure import structure_problem
from drimlab.errors import InputError


@contextmanager
def quiet_values() -> Iterator[None]:
    """Silence pydicom's warnings on invalid values: the rules and dciodvfy report them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def read_bytes(path: Path, label: str | None = None) -> bytes:
    """The bytes of a file, or InputError naming it and what went wrong."""
    name = label or str(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from None


def _reason(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def touch_values(dataset: Dataset, label: str) -> None:
    """Convert every value of the dataset and its File Meta now; InputError when one fails."""
    with quiet_values():
        try:
            meta = getattr(dataset, "file_meta", None)
            for element in (*(meta.iterall() if meta is not None else ()), *dataset.iterall()):
                _ = element.value
        except Exception as exc:  # pydicom raises many types on damaged input
            raise InputError(f"{label}: unreadable DICOM file ({_reason(exc)})") from None


def read_dataset(source: Path | bytes, label: str | None = None) -> Dataset:
    """Parse a Part 10 file (path or bytes) and every nested value, or raise InputError."""
    name = label or (str(source) if isinstance(source, Path) else "<bytes>")
    data = source if isinstance(source, bytes) else read_bytes(source, name)
    problem = structure_problem(data)
    if problem is not None:
        raise InputError(f"{name}: {problem}")
    with quiet_values():
        try:
            dataset = dcmread(BytesIO(data))
        except InvalidDicomError:
            raise InputError(
                f"{name}: not a DICOM file (no DICM prefix after the preamble)"
            ) from None
        except Exception as exc:  # pydicom raises many types on damaged input
            raise InputError(f"{name}: unreadable DICOM file ({_reason(exc)})") from None
    touch_values(dataset, name)
    return dataset
