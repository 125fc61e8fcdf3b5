"""The shape of a scenario definition, checked field by field when a YAML file is loaded.

A scenario is data: an id, bilingual texts, the role under test, prerequisites, the inputs
it takes, and ordered steps typed `INSTRUCTION` (a user action), `PREUVE` (an evidence
item to hand in) or `VALIDATION` (a run of drimlab whose report becomes evidence). Every
problem in a definition is an InputError naming the file and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from drimlab.errors import InputError

LANGUAGES = ("fr", "en")
SCENARIO_ID = re.compile(r"^[A-Z][A-Z0-9_-]{2,127}$")
STEP_ID = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
INPUT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class StepKind(StrEnum):
    """The three step types of the homologation platform."""

    INSTRUCTION = "INSTRUCTION"
    PREUVE = "PREUVE"
    VALIDATION = "VALIDATION"


class Role(StrEnum):
    """Which DRIMBox the vendor puts under test."""

    SOURCE = "source"
    CONSUMER = "consumer"


class Actor(StrEnum):
    """Who acts in a step."""

    VENDOR = "vendor"
    CLIENT_SIMULATOR = "client-simulator"
    SERVER_SIMULATOR = "server-simulator"
    DRIMLAB = "drimlab"


#: Actions drimlab performs, the step kinds they belong to and the parameters they accept.
ACTIONS: dict[str, tuple[StepKind, frozenset[str]]] = {
    "retrieve": (
        StepKind.VALIDATION,
        frozenset({"level", "series", "kos", "token", "cert", "accept", "frames"}),
    ),
    "health": (StepKind.VALIDATION, frozenset()),
    "serve": (StepKind.VALIDATION, frozenset({"requests", "faults"})),
    "probes": (StepKind.VALIDATION, frozenset({"concurrency", "burst"})),
    "whitelist": (StepKind.INSTRUCTION, frozenset({"variant"})),
}
VERDICTS = ("PASSED", "FAILED", "any")


@dataclass(frozen=True)
class Text:
    """A text in French and English."""

    fr: str
    en: str

    def get(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


@dataclass(frozen=True)
class InputSpec:
    """One input the scenario takes (from the command line, a file, or a prompt)."""

    name: str
    text: Text
    required: bool = False
    default: str | None = None


@dataclass(frozen=True)
class Prerequisites:
    """What must exist before the run: a dataset, test certificates, the signed whitelist."""

    dataset: str = "default"
    certificates: tuple[str, ...] = ()
    whitelist: bool = False


@dataclass(frozen=True)
class Expectation:
    """What a VALIDATION step must observe to be done: HTTP status(es), report verdict, refusal."""

    status: tuple[int, ...] = ()
    verdict: str = "PASSED"
    refused: bool = False


@dataclass(frozen=True)
class Step:
    """One step of a scenario."""

    id: str
    kind: StepKind
    actor: Actor
    text: Text
    action: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    expect: Expectation = field(default_factory=Expectation)
    optional: bool = False


@dataclass(frozen=True)
class Scenario:
    """A whole scenario definition."""

    id: str
    version: int
    title: Text
    summary: Text
    role: Role
    prerequisites: Prerequisites
    inputs: tuple[InputSpec, ...]
    steps: tuple[Step, ...]
    sha256: str = ""
    source: str = ""

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise InputError(f"scenario {self.id} has no step {step_id!r}")


class _Reader:
    """Typed access to a mapping, with errors that name the file and the field."""

    def __init__(self, data: object, where: str, origin: str) -> None:
        if not isinstance(data, Mapping):
            raise InputError(f"{origin}: {where} must be a mapping")
        self.data: Mapping[str, Any] = data
        self.where = where
        self.origin = origin

    def fail(self, key: str, problem: str) -> InputError:
        return InputError(f"{self.origin}: {self.where}.{key} {problem}")

    def check_keys(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            raise InputError(
                f"{self.origin}: {self.where} has unknown field(s) {', '.join(unknown)}"
            )

    def string(self, key: str, *, pattern: re.Pattern[str] | None = None) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        if pattern is not None and not pattern.match(value):
            raise self.fail(key, f"{value!r} does not match {pattern.pattern}")
        return value

    def optional_string(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str | int):
            raise self.fail(key, "must be a string")
        return str(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def text(self, key: str) -> Text:
        value = _Reader(self.data.get(key), f"{self.where}.{key}", self.origin)
        value.check_keys(set(LANGUAGES))
        return Text(fr=value.string("fr"), en=value.string("en"))

    def enum(self, key: str, kind: type[StrEnum]) -> Any:
        value = self.string(key)
        try:
            return kind(value)
        except ValueError:
            choices = ", ".join(m.value for m in kind)
            raise self.fail(key, f"{value!r} is not one of {choices}") from None

    def child(self, key: str) -> _Reader:
        return _Reader(self.data.get(key, {}), f"{self.where}.{key}", self.origin)

    def items(self, key: str) -> list[_Reader]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list")
        return [_Reader(v, f"{self.where}.{key}[{i}]", self.origin) for i, v in enumerate(value)]


def _expectation(reader: _Reader) -> Expectation:
    reader.check_keys({"status", "verdict", "refused"})
    raw = reader.data.get("status", [])
    statuses = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(s, int) and 100 <= s <= 599 for s in statuses):
        raise reader.fail("status", "must be an HTTP status or a list of them")
    verdict = reader.data.get("verdict", "PASSED")
    if verdict not in VERDICTS:
        raise reader.fail("verdict", f"{verdict!r} is not one of {', '.join(VERDICTS)}")
    return Expectation(tuple(statuses), str(verdict), reader.boolean("refused", False))


def _step(reader: _Reader, known_inputs: set[str]) -> Step:
    reader.check_keys(
        {
            "id",
            "kind",
            "actor",
            "text",
            "action",
            "with",
            "inputs",
            "evidence",
            "expect",
            "optional",
        }
    )
    kind: StepKind = reader.enum("kind", StepKind)
    action = reader.optional_string("action")
    params = reader.child("with").data
    if action is not None:
        if action not in ACTIONS:
            raise reader.fail("action", f"{action!r} is not one of {', '.join(sorted(ACTIONS))}")
        action_kind, allowed = ACTIONS[action]
        if kind is not action_kind:
            raise reader.fail("action", f"{action!r} belongs to a {action_kind.value} step")
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise reader.fail("with", f"has unknown parameter(s) {', '.join(unknown)}")
    elif params:
        raise reader.fail("with", "needs an action")
    if kind is StepKind.VALIDATION and action is None:
        raise reader.fail("action", "is required on a VALIDATION step")
    evidence = reader.strings("evidence")
    if kind is StepKind.PREUVE and not evidence:
        raise reader.fail("evidence", "must name at least one evidence item on a PREUVE step")
    inputs = reader.strings("inputs")
    missing = sorted(set(inputs) - known_inputs)
    if missing:
        raise reader.fail("inputs", f"names undeclared input(s) {', '.join(missing)}")
    return Step(
        id=reader.string("id", pattern=STEP_ID),
        kind=kind,
        actor=reader.enum("actor", Actor),
        text=reader.text("text"),
        action=action,
        params=dict(params),
        inputs=inputs,
        evidence=evidence,
        expect=_expectation(reader.child("expect")),
        optional=reader.boolean("optional", False),
    )


def parse_scenario(data: object, *, origin: str, sha256: str = "") -> Scenario:
    """Check a loaded YAML document and build the Scenario; InputError on any problem."""
    top = _Reader(data, "scenario", origin)
    top.check_keys(
        {"id", "version", "title", "summary", "role", "prerequisites", "inputs", "steps"}
    )
    version = top.data.get("version", 1)
    if not isinstance(version, int) or version < 1:
        raise top.fail("version", "must be a positive integer")
    pre = top.child("prerequisites")
    pre.check_keys({"dataset", "certificates", "whitelist"})
    inputs = []
    for item in top.items("inputs") if top.data.get("inputs") else []:
        item.check_keys({"name", "text", "required", "default"})
        inputs.append(
            InputSpec(
                name=item.string("name", pattern=INPUT_NAME),
                text=item.text("text"),
                required=item.boolean("required", False),
                default=item.optional_string("default"),
            )
        )
    names = {i.name for i in inputs}
    steps = tuple(_step(s, names) for s in top.items("steps"))
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            raise InputError(f"{origin}: step id {step.id!r} is used twice")
        seen.add(step.id)
    return Scenario(
        id=top.string("id", pattern=SCENARIO_ID),
        version=version,
        title=top.text("title"),
        summary=top.text("summary"),
        role=top.enum("role", Role),
        prerequisites=Prerequisites(
            dataset=pre.optional_string("dataset") or "default",
            certificates=pre.strings("certificates"),
            whitelist=pre.boolean("whitelist", False),
        ),
        inputs=tuple(inputs),
        steps=steps,
        sha256=sha256,
        source=origin,
    )
