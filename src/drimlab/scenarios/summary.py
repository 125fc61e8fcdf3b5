"""HTML pages of a run (inside its bundle) and of a monitor's verification."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from drimlab.scenarios.schema import Text
from drimlab.scenarios.transport import LABELS as TRANSPORT_LABELS
from drimlab.scenarios.transport import Transport

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


#: The monitor page's own texts (the reasons it lists are the monitor's, in English).
MONITOR_TEXTS: dict[str, Text] = {
    "title": Text(fr="Vérification des preuves", en="Evidence verification"),
    "bundle": Text(fr="Lot", en="Bundle"),
    "scenario": Text(fr="scénario", en="scenario"),
    "run": Text(fr="exécution", en="run"),
    "exam": Text(fr="Examen", en="Exam"),
    "sut": Text(fr="Système sous test", en="System under test"),
    "not_identified": Text(fr="non identifié", en="not identified"),
    "exported": Text(fr="Exporté par", en="Exported by"),
    "at": Text(fr="le", en="at"),
    "signed": Text(fr="Signé par", en="Signed by"),
    "transport": Text(fr="Transport", en="Transport"),
    "plain_warning": Text(
        fr="Au moins un échange a circulé en HTTP clair (exécution de mise au point) : ce lot ne "
        "peut pas être VERIFIED, seule une exécution en TLS mutuel fait preuve.",
        en="At least one exchange travelled in plain HTTP (a debugging run): this bundle cannot "
        "be VERIFIED; only a run over mutual TLS is evidence.",
    ),
    "failed": Text(fr="Pourquoi la vérification échoue", en="Why it failed"),
    "missing": Text(fr="Ce qui manque", en="What is missing"),
    "checks": Text(fr="Contrôles réussis", en="Checks passed"),
    "reports": Text(fr="Rapports", en="Reports"),
    "step": Text(fr="Étape", en="Step"),
    "report": Text(fr="Rapport", en="Report"),
    "subject": Text(fr="Objet", en="Subject"),
    "verdict": Text(fr="Verdict", en="Verdict"),
    "tls_version": Text(fr="version TLS", en="TLS version"),
    "steps": Text(fr="Étapes", en="Steps"),
    "kind": Text(fr="Type", en="Kind"),
    "status": Text(fr="État dans l’exécution", en="Status in the run"),
    "detail": Text(fr="Détail", en="Detail"),
    "none": Text(fr="aucun", en="none"),
}


def render_verification(verification: Any, language: str = "en") -> str:
    """The monitor's page in French or English: verdict, transport, reports, reasons, steps."""
    texts = {key: text.get(language) for key, text in MONITOR_TEXTS.items()}
    modes = {line.transport for line in verification.reports}
    return _env.get_template("monitor.html.j2").render(
        v=verification,
        m=verification.manifest,
        t=texts,
        lang=language,
        modes=[TRANSPORT_LABELS[mode].get(language) for mode in sorted(modes)],
        mode_of={mode.value: label.get(language) for mode, label in TRANSPORT_LABELS.items()},
        plain=Transport.PLAIN_HTTP in modes,
    )
