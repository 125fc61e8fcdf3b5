"""The HTML report: one self-contained page, every untrusted string escaped."""

from __future__ import annotations

import re

import lxml.html
import pytest

from drimlab.validation.findings import Severity
from drimlab.validation.render import render
from drimlab.validation.rules import Catalogue, Rule, RuleDoc
from tests.validation.test_render import EXAMPLES, big_report, failed_report

EXTERNAL = re.compile(r"<script|<link|<img|<iframe|<object|src=|@import|url\(", re.IGNORECASE)


def _page(name: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(render(EXAMPLES[name](), "html"))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_self_contained(name: str) -> None:
    out = render(EXAMPLES[name](), "html")
    assert out.startswith("<!DOCTYPE html>")
    assert "<style>" in out
    assert not EXTERNAL.search(out)


def test_hostile_text_is_escaped_everywhere() -> None:
    out = render(EXAMPLES["hostile"](), "html")
    assert "<script" not in out
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;" in out
    # subject (title, heading, meta), location, message, expected, actual, part, fact key/value
    assert out.count("&lt;script&gt;") >= 10
    assert "\x1b" not in out
    assert "\x00" not in out
    page = lxml.html.document_fromstring(out)
    assert page.xpath("//script") == []
    assert page.findtext(".//title").startswith('FAILED — <script>alert("x")</script>')


def test_banner_counters_and_tables() -> None:
    page = _page("failed")
    banner = page.xpath("//div[contains(@class, 'banner')]")[0]
    assert banner.get("class") == "banner FAILED"
    counters = [li.text_content() for li in page.xpath("//ul[@class='counters']/li")]
    assert counters == ["2errors", "1warnings", "1info", "3rules checked", "2parts"]
    rows = page.xpath("//table[@class='findings']/tbody/tr")
    assert [r.get("class") for r in rows] == ["error", "error", "warning", "info"]
    first = [td.text_content() for td in rows[0].xpath("td")]
    assert first == [
        "error",
        "WADO-RS-004",
        "part 1, (0002,0010)",
        "part transfer-syntax disagrees with the File Meta",
        "1.2.840.10008.1.2.4.70",
        "1.2.840.10008.1.2.1",
    ]
    parts = page.xpath("//table[@class='parts']/tbody/tr")
    assert len(parts) == 2
    assert parts[1].xpath("td")[5].text_content() == "1.2.826.0.1.3680043.8.498.2"


def test_rules_table_lists_outcomes_and_references() -> None:
    page = _page("failed")
    rows = {
        r.get("id"): [td.text_content() for td in r.xpath("td")]
        for r in page.xpath("//table[@class='rules']/tbody/tr")
    }
    assert rows["rule-WADO-RS-004"][1:] == ["failed", "1", "PS3.18 §8.7.3.5.2"]
    assert rows["rule-WADO-RQ-003"][1] == "warning"
    assert rows["rule-TLS-002"][1] == "failed"
    assert rows["rule-WADO-RS-001"][1] == "passed"
    link = page.xpath("//table[@class='findings']//a")[0]
    assert link.get("href") == "#rule-WADO-RS-004"


def test_catalogue_adds_names_and_references() -> None:
    catalogue = Catalogue()
    catalogue.register(
        Rule(
            code="WADO-RS-001",
            name="status-does-not-fit",
            severity=Severity.ERROR,
            summary="The status fits the request.",
            doc=RuleDoc("w", "y", "b", "g"),
            references=("https://dicom.nema.org/medical/dicom/current/output/html/part18.html",),
            subject="response",
            check=lambda subject: iter(()),
        )
    )
    out = render(failed_report(), "html", catalogue=catalogue)
    page = lxml.html.document_fromstring(out)
    row = page.get_element_by_id("rule-WADO-RS-001")
    assert "status-does-not-fit" in row.text_content()
    assert row.xpath(".//a/@href") == [
        "https://dicom.nema.org/medical/dicom/current/output/html/part18.html"
    ]


def test_other_verdicts_and_empty_sections() -> None:
    page = _page("undefined")
    assert page.xpath("//div[contains(@class, 'banner')]")[0].get("class") == "banner UNDEFINED"
    empties = [p.text_content() for p in page.xpath("//p[@class='empty']")]
    assert empties == ["No finding.", "No body part was recorded.", "No rule ran."]
    assert _page("passed").xpath("//div[@class='banner PASSED']")


def test_thousands_of_rows() -> None:
    page = lxml.html.document_fromstring(render(big_report(), "html"))
    assert len(page.xpath("//table[@class='findings']/tbody/tr")) == 2000
    assert len(page.xpath("//table[@class='parts']/tbody/tr")) == 500


def test_non_ascii_survives() -> None:
    page = _page("non-ascii")
    assert "Patient « Éloïse Ñúñez » 患者 — 🩻" in page.text_content()
