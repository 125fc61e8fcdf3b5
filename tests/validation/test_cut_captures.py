"""A capture cut inside its headers is an unusable input (exit 2, one line), never PASSED with
0 parts (issue 17; the HTTP/1.1 parser reports it, this keeps it so)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run

WADO = Path(__file__).resolve().parents[1] / "fixtures" / "wado"


@pytest.mark.parametrize(
    ("kind", "fixture", "cut"),
    [
        ("response", "DICOM-001-good.resp", 120),
        ("response", "DICOM-001-good.resp", 40),
        ("request", "DRIM-001-good.http", 60),
    ],
)
def test_a_capture_cut_inside_its_headers_is_unusable(
    kind: str, fixture: str, cut: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = tmp_path / fixture
    capture.write_bytes((WADO / fixture).read_bytes()[:cut])
    assert run(["validate", kind, str(capture)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    (line,) = out.err.strip().splitlines()
    assert f"{capture}: the message ends inside its head after {cut} bytes" in line
