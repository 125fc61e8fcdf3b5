"""HTML pages of a run (inside its bundle) and of a monitor's verification."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from drimlab.scenarios.transport import LABELS as TRANSPORT_LABELS
from drimlab.scenarios.transport import Transport
from drimlab.validation.render.labels import translator

TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_run_summary(manifest: Mapping[str, Any]) -> str:
    """The run at a glance: scenario, exam, SUT, steps with their reports and evidence."""
    return _env.get_template("run.html.j2").render(m=manifest)


def render_verification(verification: Any, language: str = "en") -> str:
    """The monitor's page in French or English: verdict, transport, reports, reasons, steps."""
    lang = "fr" if language == "fr" else "en"
    modes = {line.transport for line in verification.reports}
    return _env.get_template("monitor.html.j2").render(
        v=verification,
        m=verification.manifest,
        t=translator(lang),
        lang=lang,
        modes=[TRANSPORT_LABELS[mode].get(lang) for mode in sorted(modes)],
        mode_of={mode.value: label.get(lang) for mode, label in TRANSPORT_LABELS.items()},
        plain=Transport.PLAIN_HTTP in modes,
    )
