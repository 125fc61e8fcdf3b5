"""The rule catalogue rendered (text, JSON, Markdown, HTML) and the `drimlab rules` command."""

from __future__ import annotations

import json

import lxml.html
import pytest

from drimlab.cli import run
from drimlab.errors import InputError
from drimlab.validation.findings import Severity
from drimlab.validation.render import CATALOGUE_FORMATS, render_catalogue
from drimlab.validation.rules import Catalogue, Rule, RuleDoc

BAD_REQUEST = "GET /studies/1.2.3 HTTP/1.1\nAccept: application/dicom\n```\n"


def _rule(code: str, name: str, severity: Severity = Severity.ERROR, **doc: str) -> Rule:
    texts = {
        "what": f"What {code} checks.",
        "why": f"Why {code} matters.",
        "bad": f"bad example of {code}",
        "good": f"good example of {code}",
    }
    texts.update(doc)
    return Rule(
        code=code,
        name=name,
        severity=severity,
        summary=f"Summary of {code} | with a pipe.",
        doc=RuleDoc(**texts),
        references=("PS3.18 §8.7.3", "DRIM-M spec §4"),
        subject="request",
        check=lambda subject: iter(()),
    )


@pytest.fixture
def catalogue() -> Catalogue:
    cat = Catalogue()
    cat.register(_rule("WADO-RQ-002", "accept-missing", bad=BAD_REQUEST))
    cat.register(_rule("WADO-RQ-001", "method-not-get"))
    cat.register(_rule("DRIM-001", "kos-header-missing", Severity.WARNING, what="Olé « ça » ✓"))
    return cat


def test_formats() -> None:
    assert CATALOGUE_FORMATS == ("text", "json", "markdown", "html")


def test_unknown_format(catalogue: Catalogue) -> None:
    with pytest.raises(InputError, match="unknown catalogue format 'pdf'"):
        render_catalogue(catalogue, "pdf")


def test_text_lists_rules_in_code_order(catalogue: Catalogue) -> None:
    lines = render_catalogue(catalogue, "text").splitlines()
    assert [line.split()[0] for line in lines[:3]] == ["DRIM-001", "WADO-RQ-001", "WADO-RQ-002"]
    assert lines[0].split()[1:3] == ["warning", "kos-header-missing"]
    assert lines[-1] == "3 rules. `drimlab rules CODE` shows one rule's documentation."


def test_text_of_one_rule_is_its_full_doc(catalogue: Catalogue) -> None:
    out = render_catalogue([catalogue["WADO-RQ-002"]], "text")
    lines = out.splitlines()
    assert lines[0] == "WADO-RQ-002  accept-missing  (error, request)"
    for heading in ("What it checks", "Why it matters", "Bad", "Good", "References"):
        assert heading in lines
    assert "    GET /studies/1.2.3 HTTP/1.1" in lines
    assert "    - PS3.18 §8.7.3" in lines


def test_json(catalogue: Catalogue) -> None:
    data = json.loads(render_catalogue(catalogue, "json"))
    assert data["schema"] == "drimlab-rules/1"
    assert [r["code"] for r in data["rules"]] == ["DRIM-001", "WADO-RQ-001", "WADO-RQ-002"]
    assert data["rules"][0]["doc"]["what"] == "Olé « ça » ✓"


def test_markdown(catalogue: Catalogue) -> None:
    out = render_catalogue(catalogue, "markdown")
    assert out.startswith("<!-- Generated from the rule catalogue")
    assert "drimlab rules --format markdown > docs/rules.md" in out
    assert "| [WADO-RQ-001](#wado-rq-001) | `method-not-get` | error | request |" in out
    assert "Summary of WADO-RQ-001 \\| with a pipe." in out
    assert out.index("## DRIM") < out.index("## WADO-RQ")
    assert '<a id="wado-rq-002"></a>' in out
    # an example holding a code fence gets a longer fence
    assert "````text\nGET /studies/1.2.3 HTTP/1.1" in out
    for heading in ("What it checks", "Why it matters", "Bad", "Good", "References"):
        assert out.count(f"#### {heading}") == 3


def test_html_is_self_contained_and_escaped(catalogue: Catalogue) -> None:
    cat = Catalogue()
    cat.register(_rule("X-001", "hostile-doc", why="<script>alert(1)</script>"))
    out = render_catalogue(cat, "html")
    assert "<script" not in out
    assert "&lt;script&gt;" in out
    page = lxml.html.document_fromstring(render_catalogue(catalogue, "html"))
    assert [a.text_content() for a in page.xpath("//tbody//a")] == [
        "DRIM-001",
        "WADO-RQ-001",
        "WADO-RQ-002",
    ]
    assert page.get_element_by_id("WADO-RQ-002").xpath(".//pre")[0].text.startswith("GET ")


@pytest.mark.parametrize("fmt", CATALOGUE_FORMATS)
def test_empty_catalogue(fmt: str) -> None:
    assert render_catalogue(Catalogue(), fmt)


# --- the command -------------------------------------------------------------------------


@pytest.fixture
def cli_catalogue(monkeypatch: pytest.MonkeyPatch, catalogue: Catalogue) -> Catalogue:
    monkeypatch.setattr("drimlab.cli.rules.load_all", lambda: catalogue)
    return catalogue


def test_cli_lists(cli_catalogue: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules"]) == 0
    assert capsys.readouterr().out == render_catalogue(cli_catalogue, "text")


def test_cli_one_rule(cli_catalogue: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "wado-rq-002"]) == 0
    assert capsys.readouterr().out.startswith("WADO-RQ-002  accept-missing  (error, request)")


def test_cli_prefix(cli_catalogue: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "WADO-RQ", "--format", "json"]) == 0
    codes = [r["code"] for r in json.loads(capsys.readouterr().out)["rules"]]
    assert codes == ["WADO-RQ-001", "WADO-RQ-002"]


@pytest.mark.parametrize("fmt", CATALOGUE_FORMATS)
def test_cli_formats(
    cli_catalogue: Catalogue, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    assert run(["rules", "--format", fmt]) == 0
    assert capsys.readouterr().out == render_catalogue(cli_catalogue, fmt)


def test_cli_unknown_code_is_one_line(
    cli_catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["rules", "WADO-RQ-999"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "drimlab: error: no rule code or prefix matches 'WADO-RQ-999'\n"


def test_cli_unknown_format(cli_catalogue: Catalogue, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "--format", "pdf"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "pdf" in captured.err
    assert "Traceback" not in captured.err


def test_cli_on_the_real_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["rules", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    codes = [r["code"] for r in data["rules"]]
    assert codes == sorted(codes)
