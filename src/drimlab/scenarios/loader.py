"""Finding scenario definitions: the shipped ones and a vendor's own, one YAML file each.

Shipped definitions live in `drimlab/scenarios/definitions/`; a vendor adds theirs as
`*.yaml` files in `<DRIMLAB_HOME>/scenarios/`. An id defined twice is an error.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from drimlab.config import Settings
from drimlab.errors import InputError
from drimlab.limits import YAML_BYTES, read_bounded
from drimlab.scenarios.schema import Scenario, parse_scenario

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


def user_dir(settings: Settings) -> Path:
    """Where a vendor puts their own scenario files."""
    return settings.home / "scenarios"


def load_file(path: Path) -> Scenario:
    """Read and check one scenario file."""
    raw = read_bounded(path, YAML_BYTES, "a scenario definition")
    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not valid YAML: {first}") from None
    return parse_scenario(data, origin=str(path), sha256=hashlib.sha256(raw).hexdigest())


def load_text(text: str, *, origin: str) -> Scenario:
    """Check a scenario held as text (e.g. the copy inside an evidence bundle)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{origin}: not valid YAML: {str(exc).splitlines()[0]}") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return parse_scenario(data, origin=origin, sha256=digest)


def load_all(settings: Settings | None = None) -> dict[str, Scenario]:
    """Every known scenario by id: shipped first, then the user's."""
    files = sorted(DEFINITIONS_DIR.glob("*.yaml"))
    if settings is not None and user_dir(settings).is_dir():
        files += sorted(user_dir(settings).glob("*.yaml"))
    found: dict[str, Scenario] = {}
    for path in files:
        scenario = load_file(path)
        if scenario.id in found:
            raise InputError(
                f"{path}: scenario {scenario.id} is already defined in {found[scenario.id].source}"
            )
        found[scenario.id] = scenario
    return found


def get_scenario(scenario_id: str, settings: Settings | None = None) -> Scenario:
    """The scenario with that id; InputError naming the known ones otherwise."""
    known = load_all(settings)
    if scenario_id not in known:
        raise InputError(
            f"unknown scenario {scenario_id!r}; known: {', '.join(sorted(known)) or 'none'}"
        )
    return known[scenario_id]


def definition_text(scenario: Scenario) -> str:
    """The definition file's text, as it was loaded."""
    return Path(scenario.source).read_text(encoding="utf-8")
