"""`drimlab pki ...` and `drimlab whitelist ...` in-process: success, refusal, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drimlab.cli import run


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drimlab home whose PKI was made by `drimlab pki init`."""
    path = tmp_path_factory.mktemp("cli") / "home"
    assert run(["--home", str(path), "pki", "init"]) == 0
    return path


def drimlab(home: Path, *args: str) -> int:
    return run(["--home", str(home), *args])


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("drimlab: error: "), err
    return lines[0]


def test_pki_init_twice_needs_force(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert drimlab(home, "pki", "init") == 2
    assert "--force" in one_error_line(capsys.readouterr().err)


def test_pki_list_never_prints_keys(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert drimlab(home, "pki", "list", "--json") == 0
    out = capsys.readouterr().out
    entries = json.loads(out)
    assert {e["name"] for e in entries} >= {"root", "source", "consumer", "rogue", "expired"}
    assert "PRIVATE KEY" not in out
    assert drimlab(home, "pki", "list") == 0
    table = capsys.readouterr().out
    assert "Test PKI" in table and "PRIVATE KEY" not in table


def test_pki_issue_and_revoke(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["pki", "issue", "vendor-box", "--host", "db7.vendor.test", "--ou", "300000000770077"]
    assert drimlab(home, *args, "--organisation", "VENDOR TEST", "--state", "Paris (75)") == 0
    assert "CN=db7.vendor.test" in capsys.readouterr().out
    assert drimlab(home, "pki", "revoke", "vendor-box") == 0
    assert "CRL updated" in capsys.readouterr().out
    assert drimlab(home, "pki", "revoke", "vendor-box") == 2
    assert "already revoked" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["pki", "issue", "x", "--host", "h", "--ou", "42", "--organisation", "O"], "IDNST"),
        (
            [
                "pki",
                "issue",
                "y",
                "--host",
                "h",
                "--ou",
                "300000000770077",
                "--organisation",
                "O",
                "--usage",
                "email",
            ],
            "--usage",
        ),
        (["pki", "revoke", "nobody"], "no certificate named"),
        (["whitelist", "show", "/nonexistent/list.xml"], "no such file"),
        (["whitelist", "verify", "/nonexistent/list.xml"], "no such file"),
        (["whitelist", "sign", "/nonexistent/in.xml", "/tmp/out.xml"], "no such file"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    capsys.readouterr()
    assert drimlab(home, *args) == 2
    assert needle in one_error_line(capsys.readouterr().err)


def test_commands_without_a_pki_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert drimlab(tmp_path / "empty", "pki", "list") == 2
    assert "pki init" in one_error_line(capsys.readouterr().err)


def test_whitelist_make_then_verify_with_the_bench(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.xml"
    assert drimlab(home, "whitelist", "make", "--output", str(out)) == 0
    assert drimlab(home, "whitelist", "verify", str(out), "--bench") == 0
    assert "VERIFIED" in capsys.readouterr().out
    # Without --bench the expected signer is the ANS one: refused, exit 1.
    assert drimlab(home, "whitelist", "verify", str(out), "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["verified"] is False
    assert "WL-005" in [f["rule"] for f in report["findings"]]
    assert drimlab(home, "whitelist", "show", str(out)) == 0
    assert "2 domains" in capsys.readouterr().out
    assert drimlab(home, "whitelist", "show", str(out), "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert [d["db"] for d in shown["domains"]] == ["localhost", "consumer.drimlab.test"]


def test_whitelist_sign_a_list_and_tamper_it(
    home: Path, tmp_path: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed = tmp_path / "resigned.xml"
    unsigned = reference_dir / "whitelist" / "unsigned.xml"
    assert drimlab(home, "whitelist", "sign", str(unsigned), str(signed)) == 0
    assert drimlab(home, "whitelist", "verify", str(signed), "--bench") == 0
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(signed.read_bytes().replace(b"db4.test", b"db9.test"))
    capsys.readouterr()
    assert drimlab(home, "whitelist", "verify", str(tampered), "--bench") == 1
    assert "WL-003" in capsys.readouterr().out


def test_whitelist_verify_ans_samples(
    home: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = reference_dir / "whitelist"
    signed, unsigned = str(folder / "signed.xml"), str(folder / "unsigned.xml")
    assert drimlab(home, "whitelist", "verify", signed, "--at", "2026-11-29") == 0
    assert "VERIFIED" in capsys.readouterr().out
    assert drimlab(home, "whitelist", "verify", unsigned) == 1
    assert "WL-002" in capsys.readouterr().out
    assert drimlab(home, "whitelist", "verify", signed, "--at", "2030-01-01T00:00:00Z") == 1
    assert "WL-006" in capsys.readouterr().out
    assert drimlab(home, "whitelist", "verify", signed, "--at", "yesterday") == 2
    assert "--at" in one_error_line(capsys.readouterr().err)
    assert drimlab(home, "whitelist", "verify", signed, "--crl", str(folder / "signed.xml")) == 2
    assert "--ca" in one_error_line(capsys.readouterr().err)
    pki = home / "pki"
    assert (
        drimlab(
            home,
            "whitelist",
            "verify",
            signed,
            "--ca",
            str(pki / "ca" / "bundle.pem"),
            "--crl",
            str(folder / "signed.xml"),
        )
        == 2
    )
    assert "not a DER or PEM CRL" in one_error_line(capsys.readouterr().err)
    assert drimlab(home, "whitelist", "verify", signed, "--ca", str(folder / "unsigned.xml")) == 2
    assert "no readable X.509" in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("fmt", ["junit", "html", "gazelle-json", "json", "text"])
def test_whitelist_verify_renders_its_report_in_every_format(
    home: Path, reference_dir: Path, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import junitparser
    import lxml.html

    folder = reference_dir / "whitelist"
    signed, unsigned = folder / "signed.xml", folder / "unsigned.xml"
    good, bad = tmp_path / f"signed.{fmt}", tmp_path / f"unsigned.{fmt}"
    at = ["--at", "2026-11-29"]
    assert drimlab(home, "whitelist", "verify", str(signed), *at, "-f", fmt, "-o", str(good)) == 0
    assert drimlab(home, "whitelist", "verify", str(unsigned), *at, "-f", fmt, "-o", str(bad)) == 1
    capsys.readouterr()
    if fmt == "junit":
        suites = junitparser.JUnitXml.fromfile(str(bad))
        failed = [c.name for s in suites for c in s if c.result]
        assert any(name.startswith("WL-002") for name in failed)
        passed = junitparser.JUnitXml.fromfile(str(good))
        assert not [c.name for s in passed for c in s if c.result]
    elif fmt == "html":
        page = lxml.html.document_fromstring(bad.read_text(encoding="utf-8"))
        assert "WL-002" in page.text_content() and "FAILED" in page.text_content()
    elif fmt in ("json", "gazelle-json"):
        data = json.loads(bad.read_text(encoding="utf-8"))
        assert "FAILED" in json.dumps(data) and "WL-002" in json.dumps(data)
        assert "PASSED" in json.dumps(json.loads(good.read_text(encoding="utf-8")))
    else:
        assert "WL-002" in bad.read_text(encoding="utf-8")


def test_whitelist_verify_is_stored_and_takes_the_rule_selection(
    home: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unsigned = reference_dir / "whitelist" / "unsigned.xml"
    # WL-002 demoted: the unsigned list is then only a warning, and the command exits 0
    assert drimlab(home, "whitelist", "verify", str(unsigned), "--severity", "WL-002=warning") == 0
    assert drimlab(home, "whitelist", "verify", str(unsigned), "--select", "XDS") == 0
    assert drimlab(home, "whitelist", "verify", str(unsigned), "--ignore", "WL-999") == 2
    capsys.readouterr()
    assert drimlab(home, "whitelist", "verify", str(unsigned), "-f", "json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["facts"]["kind"] == "whitelist"
    from sqlalchemy import select

    from drimlab.config import Settings
    from drimlab.store import open_store
    from drimlab.store.models import ReportRecord

    store = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}"))
    try:
        with store.session() as session:
            kinds = session.scalars(select(ReportRecord.kind)).all()
    finally:
        store.close()
    assert kinds.count("whitelist") >= 3  # every verification is kept, whatever its verdict
