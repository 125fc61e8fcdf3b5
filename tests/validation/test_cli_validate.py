"""`drimlab validate`: exit statuses, formats, stored exchanges and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.store import open_store
from drimlab.store.queries import list_exchanges, list_reports, stored_exchange
from drimlab.store.records import load_exchange, load_report
from drimlab.validation.report import Verdict
from tests.validation.build_fixtures import FIXTURES


def test_ans_request_passes_and_is_stored(
    settings: Settings, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = reference_dir / "wado-rs" / "request-series.txt"
    assert run(["validate", "request", str(path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "PASSED"
    store = open_store(settings)
    try:
        (listed,) = list_exchanges(store)  # the one exchange and the one report
        (report,) = list_reports(store)
        exchange = stored_exchange(store, listed.id)
        ids = (exchange.id, report.id)
        assert report.exchange_id == exchange.id and report.verdict == "PASSED"
        assert exchange.kos_sop_instance_uid is not None
        loaded = load_exchange(store, ids[0])
        assert loaded.request_header("KOS-SOPInstanceUID") is not None
        assert load_report(store, ids[1]).verdict is Verdict.PASSED
    finally:
        store.close()


def test_failed_response_exits_1_and_body_is_stored_decoded(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = FIXTURES / "WADO-RS-021-bad.resp"
    out = tmp_path / "report.xml"
    status = run(
        ["validate", "response", str(bad), "--request", str(FIXTURES / "_request.req"),
         "--format", "junit", "--output", str(out)]
    )  # fmt: skip
    assert status == 1
    assert out.read_text().lstrip().startswith("<")
    assert "FAILED" in capsys.readouterr().out
    store = open_store(settings)
    try:
        (listed,) = list_exchanges(store)
        row = stored_exchange(store, listed.id)
        assert row.response_body_path is not None
        assert row.parts and row.parts[0]["sop_instance_uid"]
        body = (settings.home / row.response_body_path).read_bytes()
        assert bad.read_bytes().endswith(body)
    finally:
        store.close()


def test_kos_option_and_select(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    bad = FIXTURES / "DRIM-022-bad.resp"
    args = ["validate", "response", str(bad), "--request", str(FIXTURES / "_request.req")]
    assert run([*args, "--kos", str(FIXTURES / "_kos.dcm"), "-f", "json"]) == 1
    assert "DRIM-022" in capsys.readouterr().out
    assert run([*args, "-f", "json"]) == 0  # without the KOS the rule cannot run
    assert run([*args, "--kos", str(FIXTURES / "_kos.dcm"), "--ignore", "DRIM-022"]) == 0
    assert run([*args, "--select", "WADO-RS-001,WADO-RS-003"]) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "request", "/no/such/file"], "no such file"),
        (["validate", "request", "{req}", "--select", "NOPE"], "no rule code or prefix"),
        (["validate", "request", "{req}", "--profile", "other"], "unknown profile"),
        (["validate", "request", "{req}", "--format", "pdf"], "unknown format"),
        (["validate", "response", "{req}"], "not an HTTP status line"),
        (["validate", "har", "{req}"], "not JSON"),
        (["validate", "request", "{req}", "--kos", "{req}"], ""),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    request = str(FIXTURES / "_request.req")
    assert run([a.format(req=request) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("drimlab: error:") and message in err
    assert len(err.splitlines()) == 1


def test_har_writes_one_report_per_entry(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = tmp_path / "c.har"
    har.write_text(
        json.dumps(
            {
                "log": {
                    "entries": [
                        {"request": {"method": "GET", "url": "/studies/1.2", "headers": []}},
                        {"request": {"method": "PUT", "url": "/studies/1.2", "headers": []}},
                    ]
                }
            }
        )
    )
    assert run(["validate", "har", str(har), "-f", "html", "-o", str(tmp_path / "out")]) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "entry-000.html",
        "entry-001.html",
    ]


def test_har_to_stdout(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = tmp_path / "c.har"
    entry = {"request": {"method": "GET", "url": "/studies/1.2", "headers": []}}
    har.write_text(json.dumps({"log": {"entries": [entry, entry]}}))
    assert run(["validate", "har", str(har), "-f", "json"]) == 1
    assert [r["verdict"] for r in json.loads(capsys.readouterr().out)] == ["FAILED", "FAILED"]
    assert run(["validate", "har", str(har), "-f", "junit"]) == 2
    assert "--output" in capsys.readouterr().err


def test_a_capture_cut_inside_its_head_is_refused_not_passed(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.http"
    good = (FIXTURES / "WADO-RS-011-good.resp").read_bytes()
    cut.write_bytes(good[: good.index(b"\r\n\r\n") - 5])
    assert run(["validate", "response", str(cut)]) == 2
    err = capsys.readouterr().err.strip()
    assert "ends inside its head" in err and len(err.splitlines()) == 1
