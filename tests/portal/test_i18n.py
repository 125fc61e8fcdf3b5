"""Every text of the portal has its French translation in the catalogue."""

from __future__ import annotations

import ast
from pathlib import Path

import drimlab.portal
from drimlab.portal import i18n
from drimlab.portal.templating import environment

PORTAL = Path(drimlab.portal.__file__).parent


def _messages() -> set[str]:
    found: set[str] = set()
    env = environment()
    for template in (PORTAL / "templates").glob("*.j2"):
        for _line, _function, message in env.extract_translations(template.read_text()):
            texts = message if isinstance(message, tuple) else (message,)
            found.update(t for t in texts if isinstance(t, str) and t)
    for module in PORTAL.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "mark")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_portal_text_is_translated_to_french() -> None:
    french = i18n.catalogue("fr")
    missing = sorted(m for m in _messages() if not french.get(m))
    assert missing == []


def test_accept_language_negotiation() -> None:
    assert i18n.negotiate("fr-CA,fr;q=0.8") == "fr"
    assert i18n.negotiate("en-GB,fr;q=0.3") == "en"
    assert i18n.negotiate("de,fr;q=0.5") == "fr"
    assert i18n.negotiate("de") == "en"
    assert i18n.negotiate(None) == "en"
    assert i18n.negotiate("fr;q=0") == "en"
    assert i18n.chosen("fr", "en") == "fr"
    assert i18n.chosen("xx", "fr") == "fr"


def test_the_html_report_and_the_monitor_page_speak_french_too() -> None:
    from datetime import UTC, datetime

    from drimlab.scenarios.monitor import Verification
    from drimlab.scenarios.summary import render_verification
    from drimlab.validation.render import render
    from drimlab.validation.report import Report

    now = datetime.now(UTC)
    report = Report("GET /x", "drim-m", (), (), started_at=now, finished_at=now)
    english, french = render(report, "html"), render(report, "html", language="fr")
    assert '<html lang="en">' in english and "Findings" in english
    assert '<html lang="fr">' in french and "Constats" in french and "Findings" not in french
    checked = Verification("bundle.zip", failures=("bad hash",), missing=(), checks=())
    page = render_verification(checked, language="fr")
    assert '<html lang="fr">' in page and "Pourquoi il a échoué" in page
    assert "Why it failed" in render_verification(checked)
