"""Checking a scenario's inputs before a run is stored: a bad value is a one-line InputError.

A run started with `-i base_url=notaurl` would otherwise be stored, fail at its first
VALIDATION step and sit in the run list as a failed homologation attempt. The inputs the
shipped scenarios share are checked by name; other inputs are taken as given.

    check_inputs(scenario, {"base_url": "notaurl"})
    # InputError: input base_url 'notaurl': not an http(s) URL (e.g. https://host:port/dicom-web)
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from drimlab.errors import InputError
from drimlab.scenarios.schema import Scenario, StepKind
from drimlab.validation.profiles import PROFILES

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
MAX_TIMEOUT = 24 * 3600.0
_STUDIES = re.compile(r"/studies(/|$)")
_UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def _base_url(value: str, values: Mapping[str, str]) -> str | None:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL (e.g. https://host:port/dicom-web)"
    try:
        _ = parts.port
    except ValueError:
        return "its port is not a number between 0 and 65535"
    if parts.query or parts.fragment:
        return "a base URL has no query or fragment (everything before /studies)"
    if _STUDIES.search(parts.path):
        return "give the base URL, everything before /studies"
    insecure = values.get("insecure_http", "").strip().lower() in TRUE_WORDS
    if parts.scheme == "http" and not insecure:
        return "plain http:// needs -i insecure_http=true (debugging only; DRIM-M needs TLS)"
    return None


def _port(value: str, _: Mapping[str, str]) -> str | None:
    if not value.strip().isdigit() or not 0 <= int(value) <= 65535:
        return "not a TCP port (0 to 65535; 0: a free port)"
    return None


def _timeout(value: str, _: Mapping[str, str]) -> str | None:
    try:
        seconds = float(value)
    except ValueError:
        return "not a number of seconds"
    if not 0 < seconds <= MAX_TIMEOUT:
        return f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds"
    return None


def _flag(value: str, _: Mapping[str, str]) -> str | None:
    if value.strip().lower() not in TRUE_WORDS | FALSE_WORDS:
        return "not true or false"
    return None


def _profile(value: str, _: Mapping[str, str]) -> str | None:
    if value not in PROFILES:
        return f"unknown profile (known: {', '.join(sorted(PROFILES))})"
    return None


def _uid(value: str, _: Mapping[str, str]) -> str | None:
    if len(value) > 64 or not _UID.match(value.strip()):
        return "not a DICOM UID (digits and dots, at most 64 characters)"
    return None


def _file(value: str, _: Mapping[str, str]) -> str | None:
    path = Path(value).expanduser()
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "not a file"
    return None


def _command(value: str, _: Mapping[str, str]) -> str | None:
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        return f"not a command line ({exc})"
    return None if argv else "an empty command"


CHECKS: dict[str, Callable[[str, Mapping[str, str]], str | None]] = {
    "base_url": _base_url,
    "port": _port,
    "timeout": _timeout,
    "insecure_http": _flag,
    "profile": _profile,
    "kos_uid": _uid,
    "kos_file": _file,
    "ca": _file,
    "trigger": _command,
}


def check_inputs(scenario: Scenario, values: Mapping[str, str]) -> None:
    """Refuse the first input of the scenario whose value cannot be used (InputError)."""
    for spec in scenario.inputs:
        value = values.get(spec.name)
        check = CHECKS.get(spec.name)
        if value is None or not value.strip() or check is None:
            continue  # absent or empty: the runner says when a value is needed
        problem = check(value, values)
        if problem is not None:
            raise InputError(f"{scenario.id}: input {spec.name} {value!r}: {problem}")


def check_evidence(scenario: Scenario, files: Mapping[str, list[Path]]) -> None:
    """Refuse evidence for no PREUVE step (by step id or evidence name), or a missing file."""
    preuve = [s for s in scenario.steps if s.kind is StepKind.PREUVE]
    known = {s.id for s in preuve} | {e for s in preuve for e in s.evidence}
    for key, paths in files.items():
        if key not in known:
            raise InputError(
                f"{scenario.id}: no PREUVE step or evidence named {key!r} "
                f"(PREUVE steps: {', '.join(s.id for s in preuve) or 'none'})"
            )
        for path in paths:
            if not path.is_file():
                reason = "not a file" if path.exists() else "no such file"
                raise InputError(f"{scenario.id}: evidence {key} {path}: {reason}")
