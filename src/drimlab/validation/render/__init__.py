"""Renderers: a Report (or the rule catalogue) turned into text, JSON, HTML, JUnit or Gazelle.

Renderers never re-validate: they read a Report. `render(report, fmt)` is the one entry
point the CLI, the simulators and the portal use.
"""

from __future__ import annotations

from drimlab.errors import InputError
from drimlab.validation.render.catalogue import CATALOGUE_FORMATS, doc_problems, render_catalogue
from drimlab.validation.render.gazelle import render_gazelle_json, render_gazelle_xml
from drimlab.validation.render.html import render_html
from drimlab.validation.render.json import render_json
from drimlab.validation.render.junit import render_junit
from drimlab.validation.render.text import render_text
from drimlab.validation.report import Report
from drimlab.validation.rules import Catalogue

FORMATS: tuple[str, ...] = ("text", "json", "html", "junit", "gazelle-json", "gazelle-xml")

__all__ = [
    "CATALOGUE_FORMATS",
    "FORMATS",
    "doc_problems",
    "render",
    "render_catalogue",
]


def render(
    report: Report,
    fmt: str,
    *,
    color: bool = False,
    catalogue: Catalogue | None = None,
    language: str = "en",
) -> str:
    """The report in `fmt` (one of FORMATS); `catalogue` adds rule names where a format shows them.

    `color` only affects `text`, `language` (en or fr) only `html`. An unknown format is an
    InputError.
    """
    if fmt == "text":
        return render_text(report, color=color)
    if fmt == "json":
        return render_json(report)
    if fmt == "html":
        return render_html(report, catalogue, language=language)
    if fmt == "junit":
        return render_junit(report, catalogue)
    if fmt == "gazelle-json":
        return render_gazelle_json(report, catalogue)
    if fmt == "gazelle-xml":
        return render_gazelle_xml(report, catalogue)
    raise InputError(f"unknown report format {fmt!r}; choose one of {', '.join(FORMATS)}")
