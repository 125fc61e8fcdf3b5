"""IHE XDM export archives (ITI TF-1 §16, TF-3 §4.2.1.4): read one, or build one for an exam.

Layout: `INDEX.HTM` and `README.TXT` at the root, one folder per submission set
`IHE_XDM/<subset>/` holding `METADATA.XML` (a SubmitObjectsRequest whose DocumentEntries carry
`URI`, `size` and `hash` slots) and the documents it lists. Images may travel beside them.
Reading never extracts: members are read from the ZIP, hashed as they stream, and names that
would escape a folder are reported, never opened.
"""

from __future__ import annotations

import hashlib
import posixpath
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from drimlab.documents.cross import ImageFacts, XdsFacts, read_image, xds_facts
from drimlab.documents.xds import Submission, parse_submission
from drimlab.documents.xds_build import DocumentFile, xdm_metadata
from drimlab.domain import KOS_MIME_TYPE
from drimlab.errors import InputError
from drimlab.limits import DOCUMENT_BYTES, check_archive, is_folder, size_text
from drimlab.version import __version__

XDM_ROOT = "IHE_XDM/"
METADATA = "METADATA.XML"
_CHUNK = 1024 * 1024
# What reading a damaged or unsupported member can raise (RuntimeError: encrypted member).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


@dataclass(frozen=True)
class ListedDocument:
    """One DocumentEntry of a METADATA.XML and what the archive holds at its URI."""

    subset: str
    entry_id: str
    mime_type: str
    uri: str
    member: str | None
    declared_size: str
    declared_hash: str
    size: int
    sha1: str
    sha256: str

    @property
    def content_type(self) -> str:
        return self.mime_type


@dataclass(frozen=True)
class XdmSubset:
    """One `IHE_XDM/<subset>/` folder: its metadata, parsed or not."""

    name: str
    metadata_name: str | None
    submission: Submission | None
    error: str | None


@dataclass
class XdmArchive:
    """An XDM archive opened for validation (call `close`)."""

    label: str
    zip: zipfile.ZipFile
    prefix: str
    names: tuple[str, ...]
    unsafe: tuple[str, ...]
    subsets: list[XdmSubset] = field(default_factory=list)
    listed: list[ListedDocument] = field(default_factory=list)
    images: list[ImageFacts] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """True when the root holds that file (any case, as CD file systems fold it)."""
        return any(n.upper() == (self.prefix + name).upper() for n in self.names)

    def read(self, member: str) -> bytes:
        info = self.zip.getinfo(member)
        if info.file_size > DOCUMENT_BYTES:
            raise InputError(
                f"{self.label}: {member} is larger than {size_text(DOCUMENT_BYTES)}, "
                "the limit for a document"
            )
        try:
            return self.zip.read(info)
        except ZIP_ERRORS as exc:
            raise InputError(f"{self.label}: {member} cannot be read ({exc})") from None

    @property
    def kos_members(self) -> list[str]:
        return [
            d.member
            for d in self.listed
            if d.member is not None
            and d.mime_type == KOS_MIME_TYPE
            and d.member not in self.unreadable
        ]

    def xds_facts_for(self, member: str) -> XdsFacts | None:
        """The XDS facts of the DocumentEntry that lists this member."""
        for document in self.listed:
            if document.member != member:
                continue
            subset = next(s for s in self.subsets if s.name == document.subset)
            if subset.submission is not None:
                return xds_facts(subset.submission, document.entry_id)
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "subsets": [s.name for s in self.subsets],
            "documents": [d.uri for d in self.listed],
            "images": len(self.images),
        }

    def close(self) -> None:
        self.zip.close()


def _unsafe(name: str) -> bool:
    if name.startswith(("/", "\\")) or "\\" in name or ":" in name.split("/", maxsplit=1)[0]:
        return True
    return ".." in name.split("/")


def _hashes(handle: IO[bytes]) -> tuple[int, str, str]:
    sha1, sha256, size = hashlib.sha1(usedforsecurity=False), hashlib.sha256(), 0
    while chunk := handle.read(_CHUNK):
        sha1.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
    return size, sha1.hexdigest(), sha256.hexdigest()


def _prefix(names: Sequence[str]) -> str:
    """'' when INDEX.HTM or IHE_XDM/ is at the root, else the single top folder holding them."""
    upper = [n.upper() for n in names]
    if "INDEX.HTM" in upper or any(n.startswith(XDM_ROOT) for n in upper):
        return ""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    if len(tops) == 1:
        top = tops.pop() + "/"
        if any(n.upper().startswith(top.upper() + XDM_ROOT) for n in names):
            return top
    return ""


def _subsets(archive: XdmArchive) -> None:
    root = (archive.prefix + XDM_ROOT).upper()
    folders: dict[str, list[str]] = {}
    for name in archive.names:
        if name in archive.unsafe or not name.upper().startswith(root) or name.endswith("/"):
            continue
        rest = name[len(root) :]
        if "/" in rest:
            folders.setdefault(rest.split("/", 1)[0], []).append(name)
    for folder, members in sorted(folders.items()):
        metadata = next((m for m in members if m.upper().endswith("/" + METADATA)), None)
        if metadata is None:
            archive.subsets.append(XdmSubset(folder, None, None, "no METADATA.XML"))
            continue
        try:
            submission = parse_submission(archive.read(metadata), metadata)
        except InputError as exc:
            archive.subsets.append(XdmSubset(folder, metadata, None, str(exc)))
            continue
        archive.subsets.append(XdmSubset(folder, metadata, submission, None))
        base = metadata[: -len(METADATA)]
        for entry in submission.entries:
            _list(
                archive,
                subset=folder,
                base=base,
                entry_id=entry.id,
                mime_type=entry.mime_type,
                uri=entry.first("URI"),
                entry=entry,
            )


def _list(
    archive: XdmArchive,
    *,
    subset: str,
    base: str,
    entry_id: str,
    mime_type: str,
    uri: str,
    entry: Any,
) -> None:
    target = posixpath.normpath(base + uri) if uri else ""
    member = next((n for n in archive.names if n == target), None) if uri else None
    if member is not None and member in archive.unsafe:
        member = None
    size, sha1, sha256 = 0, "", ""
    if member is not None:
        try:
            with archive.zip.open(member) as handle:
                size, sha1, sha256 = _hashes(handle)
        except ZIP_ERRORS as exc:
            archive.unreadable[member] = f"cannot be read from the archive ({exc})"
    archive.listed.append(
        ListedDocument(
            subset=subset,
            entry_id=entry_id,
            mime_type=mime_type,
            uri=uri,
            member=member,
            declared_size=entry.first("size"),
            declared_hash=entry.first("hash"),
            size=size,
            sha1=sha1,
            sha256=sha256,
        )
    )


def _images(archive: XdmArchive) -> None:
    listed = {d.member for d in archive.listed}
    for info in archive.zip.infolist():
        name = info.filename
        if name in listed or name in archive.unsafe or is_folder(info) or info.file_size < 132:
            continue
        try:
            with archive.zip.open(info) as handle:
                head = handle.read(132)
        except ZIP_ERRORS as exc:
            archive.unreadable[name] = f"cannot be read from the archive ({exc})"
            continue
        if head[128:132] != b"DICM":
            continue
        try:
            archive.images.append(read_image(archive.read(name), name))
        except InputError as exc:
            archive.unreadable[name] = str(exc)


def read_xdm(path: Path) -> XdmArchive:
    """Open an XDM ZIP for validation; InputError when it is not a usable ZIP."""
    try:
        handle = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a ZIP archive") from None
    except ZIP_ERRORS as exc:
        raise InputError(f"{path}: not a ZIP archive ({exc})") from None
    try:
        check_archive(handle, str(path))
    except InputError:
        handle.close()
        raise
    infos = handle.infolist()
    names = tuple(i.filename for i in infos)
    archive = XdmArchive(
        label=str(path),
        zip=handle,
        prefix=_prefix(names),
        names=names,
        unsafe=tuple(n for n in names if _unsafe(n)),
    )
    try:
        _subsets(archive)
        _images(archive)
    except ZIP_ERRORS as exc:
        archive.close()
        raise InputError(f"{path}: damaged ZIP archive ({exc})") from None
    except BaseException:
        archive.close()
        raise
    return archive


INDEX_HTM = """<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Export XDM</title></head>
<body><h1>Export XDM (IHE ITI XDM)</h1>
<p>Patient INS {ins} - examen {study}</p>
<ul><li><a href="IHE_XDM/SUBSET01/KOS.DCM">KOS (manifeste DRIM-M)</a></li>
<li><a href="README.TXT">README.TXT</a></li></ul>
</body></html>
"""
README_TXT = """IHE XDM export written by drimlab {version}.
Contents: IHE_XDM/SUBSET01/METADATA.XML (XDS metadata), IHE_XDM/SUBSET01/KOS.DCM (the DRIM-M
KOS manifest of the exam), IMAGES/ (the images the manifest references).
"""


def build_xdm(kos_file: Path, images: Sequence[Path], output: Path) -> Path:
    """Write an XDM archive holding a KOS (listed in METADATA.XML) and its images; return it."""
    from drimlab.documents.kos import read_kos  # noqa: PLC0415 - pydicom-heavy

    data = kos_file.read_bytes()
    kos = read_kos(data, label=str(kos_file))
    uri = "KOS.DCM"
    document = DocumentFile(
        uri=uri, size=len(data), sha1=hashlib.sha1(data, usedforsecurity=False).hexdigest()
    )
    temp = output.with_name(f".{output.name}.partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(
                "INDEX.HTM",
                INDEX_HTM.format(ins=kos.patient_id, study=kos.study_instance_uid),
            )
            archive.writestr("README.TXT", README_TXT.format(version=__version__))
            archive.writestr(f"{XDM_ROOT}SUBSET01/{METADATA}", xdm_metadata(kos.dataset, document))
            archive.writestr(f"{XDM_ROOT}SUBSET01/{uri}", data)
            for index, image in enumerate(images, start=1):
                archive.write(image, f"IMAGES/IM{index:06d}.DCM")
        temp.replace(output)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return output
