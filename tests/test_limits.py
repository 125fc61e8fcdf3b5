"""Every input is bounded: each cap of `drimlab.limits` refuses a real crafted input in one line.

The inputs are the real thing, not a patched limit: `/dev/zero`, sparse files larger than a cap
(no disk used), a deflate bomb, a ZIP whose entries overlap, a ZIP of too many entries.
"""

from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.documents.xdm import read_xdm
from drimlab.errors import InputError
from drimlab.limits import (
    ARCHIVE_MEMBERS,
    DOCUMENT_BYTES,
    HAR_BYTES,
    IMPORT_FILE_BYTES,
    LIMITS,
    WHITELIST_BYTES,
    YAML_BYTES,
    check_archive,
    read_bounded,
    size_text,
)
from drimlab.scenarios.monitor import verify_bundle

DOCS = Path(__file__).resolve().parents[1] / "docs" / "limits.md"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = run(list(args))
    captured = capsys.readouterr()
    return status, captured.err


def _one_line_refusal(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    status, err = _cli(capsys, *args)
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def test_every_limit_is_in_the_documented_table() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for limit in LIMITS:
        row = next((line for line in text.splitlines() if f"`{limit.name}`" in line), None)
        assert row is not None, f"{limit.name} missing from docs/limits.md"
        shown = size_text(limit.value) if limit.unit == "bytes" else f"{limit.value:,}"
        assert shown in row, f"{limit.name}: docs say {row!r}, code says {shown}"


def test_a_device_without_size_is_cut_at_the_limit() -> None:
    with pytest.raises(InputError, match=r"larger than 1 MiB, the limit for a scenario"):
        read_bounded(Path("/dev/zero"), YAML_BYTES, "a scenario definition")


def test_whitelist_verify_of_dev_zero_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = _one_line_refusal(
        capsys, "--home", str(tmp_path / "h"), "whitelist", "verify", "/dev/zero"
    )
    assert f"larger than {size_text(WHITELIST_BYTES)}" in line


def test_a_har_over_its_cap_is_refused_before_it_is_parsed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    har = _sparse(tmp_path / "huge.har", HAR_BYTES + 1)
    line = _one_line_refusal(capsys, "--home", str(tmp_path / "h"), "validate", "har", str(har))
    assert f"({HAR_BYTES + 1} bytes), the limit for a HAR file" in line


def test_a_kos_over_its_cap_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    kos = _sparse(tmp_path / "huge.dcm", DOCUMENT_BYTES + 1)
    line = _one_line_refusal(capsys, "--home", str(tmp_path / "h"), "validate", "kos", str(kos))
    assert "the limit for a document" in line


def test_a_scenario_inputs_file_over_its_cap_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("inputs:\n  a: '" + "x" * YAML_BYTES + "'\n", encoding="utf-8")
    home = str(tmp_path / "h")
    line = _one_line_refusal(
        capsys, "--home", home, "scenario", "run", "DRIM-M_SO_REPONSE_WADO", "--inputs", str(inputs)
    )
    assert "the limit for a scenario inputs file" in line


def _deflate_bomb(path: Path, inflated: int) -> Path:
    """One entry of `inflated` zero bytes, deflated (about a thousandth of its size)."""
    block = bytes(1024 * 1024)
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("IHE_XDM/SUBSET01/IMAGE.DCM", "w", force_zip64=True) as member,
    ):
        for _ in range(inflated // len(block)):
            member.write(block)
    return path


def _overlapping(path: Path, copies: int) -> Path:
    """A ZIP whose central directory names one compressed entry `copies` times."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("A0000", b"DICM" * 4096)
    data = path.read_bytes()
    cd_at = data.index(b"PK\x01\x02")
    eocd_at = data.index(b"PK\x05\x06")
    entry = data[cd_at:eocd_at]
    entries = [entry]
    name_at = 46
    for index in range(1, copies):
        renamed = bytearray(entry)
        renamed[name_at : name_at + 5] = f"A{index:04d}".encode()
        # a different local header offset per entry: each one starts inside the first one's data
        struct.pack_into("<I", renamed, 42, index)
        entries.append(bytes(renamed))
    directory = b"".join(entries)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, copies, copies, len(directory), cd_at, 0)
    path.write_bytes(data[:cd_at] + directory + eocd)
    return path


def test_a_deflate_bomb_is_refused_by_validate_xdm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bomb = _deflate_bomb(tmp_path / "bomb.zip", 100 * 1024 * 1024)
    assert bomb.stat().st_size < 200 * 1024
    line = _one_line_refusal(capsys, "--home", str(tmp_path / "h"), "validate", "xdm", str(bomb))
    assert re.search(r"inflates \d+ times its \d+ bytes, more than the ratio of 100", line), line


def test_overlapping_entries_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bomb = _overlapping(tmp_path / "overlap.zip", 50)
    with zipfile.ZipFile(bomb) as archive:
        assert len(archive.infolist()) == 50
        with pytest.raises(InputError, match="overlap"):
            check_archive(archive, "overlap.zip")
    line = _one_line_refusal(capsys, "--home", str(tmp_path / "h"), "validate", "xdm", str(bomb))
    assert "overlap (a zip bomb?)" in line


def test_too_many_entries_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(ARCHIVE_MEMBERS + 1):
            archive.writestr(zipfile.ZipInfo(f"m/{index}"), b"")
    with pytest.raises(InputError, match=rf"{ARCHIVE_MEMBERS + 1} entries, more than"):
        read_xdm(path)


def test_a_bomb_as_evidence_bundle_is_refused(tmp_path: Path) -> None:
    bomb = _deflate_bomb(tmp_path / "bundle.zip", 100 * 1024 * 1024)
    with pytest.raises(InputError, match="more than the ratio of 100"):
        verify_bundle(bomb, [])


def test_a_small_archive_may_compress_well(tmp_path: Path) -> None:
    # under the floor any ratio is fine: a blank image compresses a thousand times
    path = _deflate_bomb(tmp_path / "blank.zip", 8 * 1024 * 1024)
    with zipfile.ZipFile(path) as archive:
        check_archive(archive, "blank.zip")


def test_dataset_import_skips_a_file_over_its_cap(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "exams"
    folder.mkdir()
    huge = _sparse(folder / "huge.dcm", IMPORT_FILE_BYTES + 1)
    status = run(["--home", str(tmp_path / "h"), "dataset", "import", str(folder)])
    out = capsys.readouterr()
    assert status == 2
    assert f"skipped {huge}: larger than {size_text(IMPORT_FILE_BYTES)}" in out.out
    assert out.err.strip().splitlines() == [
        f"drimlab: error: nothing imported from {folder}: no usable DICOM file found"
    ]


def test_a_zip_bomb_given_to_dataset_import_is_refused_and_nothing_is_left(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    home = tmp_path / "h"
    bomb = _overlapping(tmp_path / "exam.zip", 50)
    line = _one_line_refusal(capsys, "--home", str(home), "dataset", "import", str(bomb))
    assert "overlap (a zip bomb?)" in line
    staging = home / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []
