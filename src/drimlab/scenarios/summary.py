"""HTML pages of a run (inside its bundle) and of a monitor's verification."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

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


MONITOR_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Evidence verification",
        "bundle": "Bundle",
        "scenario": "scenario",
        "run": "run",
        "signed_by": "Signed by",
        "issued_by": "issued by",
        "serial": "serial",
        "no_trusted_signer": "no signer the monitor can trust (see why it failed)",
        "attestation": "Attestation",
        "exam": "Exam",
        "sut": "System under test",
        "not_identified": "not identified",
        "exported_by": "Exported by",
        "claimed": "which claims the date",
        "why_failed": "Why it failed",
        "missing": "What is missing",
        "notices": "Notices",
        "checks": "Checks passed",
        "steps": "Steps",
        "step": "Step",
        "kind": "Kind",
        "status": "Status in the run",
        "detail": "Detail",
    },
    "fr": {
        "title": "Vérification des preuves",
        "bundle": "Lot de preuves",
        "scenario": "scénario",
        "run": "exécution",
        "signed_by": "Signé par",
        "issued_by": "émis par",
        "serial": "numéro de série",
        "no_trusted_signer": "aucun signataire auquel le contrôleur puisse se fier (voir les "
        "raisons de l'échec)",
        "attestation": "Attestation",
        "exam": "Examen",
        "sut": "Système testé",
        "not_identified": "non identifié",
        "exported_by": "Exporté par",
        "claimed": "qui déclare la date",
        "why_failed": "Raisons de l'échec",
        "missing": "Ce qui manque",
        "notices": "Remarques",
        "checks": "Contrôles réussis",
        "steps": "Étapes",
        "step": "Étape",
        "kind": "Type",
        "status": "État dans l'exécution",
        "detail": "Détail",
    },
}
LANGUAGES = tuple(MONITOR_TEXT)


def render_verification(verification: Any, language: str = "en") -> str:
    """The monitor's page in `language` (fr or en): verdict, signer and attestation, reasons,
    what is missing, and each step."""
    lang = language if language in MONITOR_TEXT else "en"
    return _env.get_template("monitor.html.j2").render(
        v=verification,
        m=verification.manifest,
        a=verification.attestation(lang),
        t=MONITOR_TEXT[lang],
        lang=lang,
    )
