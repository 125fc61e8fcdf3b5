"""Every input the bench reads has a bound: one table of them, and the readers that hold it.

A file a user hands to drimlab (a capture, a HAR, a KOS, a whitelist, a scenario, a bundle, a
folder to import) may be anything: `/dev/zero`, a 200 KB zip that inflates to gigabytes, a
response of 100,000 one-byte parts. Each bound below is a one-line `InputError` (the input is
refused whole) or, for what is judged, a finding (the rest counted, never silently dropped).
`docs/limits.md` lists them; `LIMITS` is that table, and a test holds the two together.

    data = read_bounded(path, WHITELIST_BYTES, "a whitelist")
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from drimlab.errors import InputError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

CAPTURE_BYTES = 4 * GIB
HAR_BYTES = 256 * MIB
DOCUMENT_BYTES = 256 * MIB
WHITELIST_BYTES = 16 * MIB
PEM_BYTES = 4 * MIB
YAML_BYTES = 1 * MIB
JSON_BYTES = 16 * MIB
ARCHIVE_BYTES = 16 * GIB
ARCHIVE_MEMBERS = 20_000
ARCHIVE_RATIO = 100
ARCHIVE_RATIO_FLOOR = 64 * MIB
IMPORT_FILE_BYTES = 4 * GIB
IMPORT_FILES = 200_000
PARTS = 10_000
FINDINGS_PER_RULE = 100


@dataclass(frozen=True)
class Limit:
    """One bound: its name in the code, its value, its unit and what it bounds."""

    name: str
    value: int
    unit: str
    bounds: str


LIMITS: tuple[Limit, ...] = (
    Limit("CAPTURE_BYTES", CAPTURE_BYTES, "bytes", "a raw HTTP request or response file"),
    Limit("HAR_BYTES", HAR_BYTES, "bytes", "a HAR file"),
    Limit(
        "DOCUMENT_BYTES",
        DOCUMENT_BYTES,
        "bytes",
        "a KOS, CDA, XDS, HL7 or image file, or one XDM member",
    ),
    Limit("WHITELIST_BYTES", WHITELIST_BYTES, "bytes", "a whitelist (signed or not)"),
    Limit("PEM_BYTES", PEM_BYTES, "bytes", "a certificate chain, key or CRL file"),
    Limit("YAML_BYTES", YAML_BYTES, "bytes", "a scenario definition or a scenario inputs file"),
    Limit("JSON_BYTES", JSON_BYTES, "bytes", "a JWKS file, a member a bundle holds read whole"),
    Limit(
        "ARCHIVE_BYTES", ARCHIVE_BYTES, "bytes", "the inflated size of a ZIP (XDM, evidence bundle)"
    ),
    Limit("ARCHIVE_MEMBERS", ARCHIVE_MEMBERS, "members", "the entries of a ZIP"),
    Limit(
        "ARCHIVE_RATIO", ARCHIVE_RATIO, "ratio", "inflated / stored size of a ZIP over the floor"
    ),
    Limit(
        "ARCHIVE_RATIO_FLOOR",
        ARCHIVE_RATIO_FLOOR,
        "bytes",
        "inflated size under which any ratio is accepted",
    ),
    Limit(
        "IMPORT_FILE_BYTES",
        IMPORT_FILE_BYTES,
        "bytes",
        "one file of a folder given to dataset import",
    ),
    Limit("IMPORT_FILES", IMPORT_FILES, "files", "the files of a folder given to dataset import"),
    Limit("PARTS", PARTS, "parts", "the body parts of one response that are judged"),
    Limit(
        "FINDINGS_PER_RULE",
        FINDINGS_PER_RULE,
        "findings",
        "the findings one rule lists in a report",
    ),
)


def size_text(count: int) -> str:
    """`268435456` -> `256 MiB`: a bound as a reader says it."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def too_large(label: str, what: str, limit: int, size: int | None = None) -> InputError:
    """The one-line refusal of an input over its bound."""
    seen = f" ({size} bytes)" if size is not None else ""
    return InputError(f"{label}: larger than {size_text(limit)}{seen}, the limit for {what}")


def check_file_size(path: Path, limit: int, what: str, label: str | None = None) -> int:
    """The size of a regular file, or InputError when it is over `limit` (or unreadable)."""
    name = label or str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{name}: is a directory, not a file")
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        raise too_large(name, what, limit, info.st_size)
    return info.st_size


def read_bounded(path: Path, limit: int, what: str, label: str | None = None) -> bytes:
    """The bytes of a file of at most `limit` bytes (a device or pipe is cut at the limit).

    `/dev/zero` or a FIFO has no size to check first: reading stops one byte past the limit.
    """
    name = label or str(path)
    check_file_size(path, limit, what, name)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise too_large(name, what, limit)
    return data


def is_folder(member: zipfile.ZipInfo) -> bool:
    """Whether a ZIP member is a folder; a member with an empty name (a damaged or crafted
    archive) counts as one, so it is never read as a file (`ZipInfo.is_dir` fails on it)."""
    return not member.filename or member.filename.endswith("/")


def check_archive(archive: zipfile.ZipFile, label: str, *, stored_size: int | None = None) -> None:
    """Refuse a ZIP whose entries could not be read within bounds (a zip bomb, say).

    Bounded: the count of entries, their declared inflated total, its ratio to the stored
    size above `ARCHIVE_RATIO_FLOOR`, and entries that overlap (the same compressed bytes
    named by many entries: the trick of the non-recursive zip bombs). `zipfile` never inflates
    an entry past its declared size, so the declared sizes bound every later read.
    """
    infos = archive.infolist()
    if len(infos) > ARCHIVE_MEMBERS:
        raise InputError(
            f"{label}: {len(infos)} entries, more than the {ARCHIVE_MEMBERS} allowed in a ZIP"
        )
    inflated = sum(i.file_size for i in infos)
    if inflated > ARCHIVE_BYTES:
        raise InputError(
            f"{label}: inflates to {inflated} bytes, more than the {size_text(ARCHIVE_BYTES)} "
            "allowed for a ZIP"
        )
    stored = stored_size if stored_size is not None else _stored_size(archive)
    if inflated > ARCHIVE_RATIO_FLOOR and inflated > ARCHIVE_RATIO * max(stored, 1):
        raise InputError(
            f"{label}: inflates {inflated // max(stored, 1)} times its {stored} bytes, more than "
            f"the ratio of {ARCHIVE_RATIO} allowed for a ZIP over {size_text(ARCHIVE_RATIO_FLOOR)}"
        )
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for before, after in pairwise(ordered):
        if before.header_offset + before.compress_size > after.header_offset:
            raise InputError(
                f"{label}: entries {before.filename!r} and {after.filename!r} overlap (a zip bomb?)"
            )


def _stored_size(archive: zipfile.ZipFile) -> int:
    handle = archive.fp
    if handle is None:
        return 0
    try:
        return os.fstat(handle.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        return sum(i.compress_size for i in archive.infolist())


__all__ = [
    "ARCHIVE_BYTES",
    "ARCHIVE_MEMBERS",
    "ARCHIVE_RATIO",
    "ARCHIVE_RATIO_FLOOR",
    "CAPTURE_BYTES",
    "DOCUMENT_BYTES",
    "FINDINGS_PER_RULE",
    "HAR_BYTES",
    "IMPORT_FILES",
    "IMPORT_FILE_BYTES",
    "JSON_BYTES",
    "LIMITS",
    "PARTS",
    "PEM_BYTES",
    "WHITELIST_BYTES",
    "YAML_BYTES",
    "Limit",
    "check_archive",
    "check_file_size",
    "read_bounded",
    "size_text",
    "too_large",
]
