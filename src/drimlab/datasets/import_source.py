"""What `drimlab dataset import` takes: a DICOM file, a folder of them, or a zip archive.

A folder is imported as it is (`importer.import_directory`). A single file and the members of
a zip archive are first placed in a staging folder under the home (a link for the file; the
archive's members copied out one by one, never to a path the archive chooses; an archive is
first held to `drimlab.limits.check_archive`, so a zip bomb is refused in one line), then imported
from there; the summary names them as the user gave them (`archive.zip!folder/file.dcm`).

    import_path(store, settings, Path("exam.zip"))   # the studies inside, named "exam"
"""

from __future__ import annotations

import os
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

from drimlab.config import Settings
from drimlab.datasets.importer import ImportSummary, SkippedFile, import_directory
from drimlab.datasets.staging import Progress, staging_area
from drimlab.errors import InputError
from drimlab.limits import check_archive, is_folder
from drimlab.store import Store

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
CHUNK = 1 << 20


def _kind(source: Path) -> str:
    if source.is_dir():
        return "folder"
    if not source.exists():
        raise InputError(f"{source}: no such directory, file or zip archive")
    if not source.is_file():
        raise InputError(f"{source}: not a file or a folder")
    try:
        with source.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror})") from None
    return "zip" if head in ZIP_MAGIC else "file"


def _member_path(name: str) -> PurePosixPath | None:
    """The member's path inside the archive, or None when it would leave the folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def _extract(archive: Path, into: Path) -> tuple[dict[Path, str], list[SkippedFile]]:
    """Copy the archive's files into `into`; where each came from, and the members left out."""
    origins: dict[Path, str] = {}
    skipped: list[SkippedFile] = []
    try:
        with zipfile.ZipFile(archive) as zipped:
            check_archive(zipped, str(archive))  # entries, inflated size, ratio, overlaps
            members = [m for m in zipped.infolist() if not is_folder(m)]
            needed = sum(m.file_size for m in members)
            free = shutil.disk_usage(into).free
            if needed > free:
                raise InputError(
                    f"{archive}: its files need {needed} bytes, {free} are free in {into}"
                )
            for index, member in enumerate(members):
                label = f"{archive}!{member.filename}"
                inside = _member_path(member.filename)
                if inside is None:
                    skipped.append(SkippedFile(Path(label), "a path outside the archive"))
                    continue
                target = into / f"{index:06d}" / inside.name
                target.parent.mkdir(parents=True)
                try:
                    with zipped.open(member) as data, target.open("wb") as out:
                        while chunk := data.read(CHUNK):
                            out.write(chunk)
                except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
                    target.unlink(missing_ok=True)
                    skipped.append(SkippedFile(Path(label), f"damaged zip member ({exc})"))
                    continue
                origins[target] = label
    except zipfile.BadZipFile as exc:
        raise InputError(f"{archive}: a damaged zip archive ({exc})") from None
    return origins, skipped


def import_path(
    store: Store,
    settings: Settings,
    source: Path,
    *,
    name: str | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import a DICOM file, a folder (recursively) or a zip archive of DICOM files."""
    kind = _kind(source)
    if kind == "folder":
        return import_directory(store, settings, source, name=name, progress=progress)
    settings.home.mkdir(parents=True, exist_ok=True)
    # a staging folder: held while this import lives, swept by the next writer if it is killed
    with staging_area(settings) as work:
        folder = work / "files"
        folder.mkdir()
        skipped: list[SkippedFile] = []
        if kind == "zip":
            origins, skipped = _extract(source, folder)
        else:
            link = folder / source.name
            os.symlink(source.resolve(), link)
            origins = {link: str(source)}
        summary = import_directory(
            store, settings, folder, name=name, progress=progress, default_name=source.stem
        )
    renamed = tuple(
        replace(s, path=Path(origins.get(s.path, str(s.path)))) for s in summary.skipped
    )
    notes = tuple(_rename(note, origins) for note in summary.notes)
    return replace(summary, source=source, skipped=(*skipped, *renamed), notes=notes)


def _rename(note: str, origins: dict[Path, str]) -> str:
    for staged, original in origins.items():
        note = note.replace(str(staged), original)
    return note
