"""Running a scenario: resolve its inputs and exam, then settle each step in order.

Interactive runs print each instruction and wait for the user, prompt for evidence files and
run the validations themselves; unattended runs (`auto`) take every input and evidence file
up front. Each step's state is committed as soon as it changes, so a run stopped at a prompt
(end of input, `q`) resumes at that step with `resume`.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drimlab.config import Settings
from drimlab.datasets.catalog import ExamInfo, get_exam, list_exams
from drimlab.documents.kos import read_kos
from drimlab.errors import DrimlabError, InputError
from drimlab.scenarios import actions
from drimlab.scenarios.actions import (
    RULES_VALUE,
    ActionResult,
    ExamTarget,
    Observation,
    RunContext,
)
from drimlab.scenarios.inputs import check_inputs
from drimlab.scenarios.runs import (
    EvidenceFile,
    RunState,
    RunStatus,
    StepStatus,
    create_run,
    finish_run,
    keep_evidence,
    load_run,
    update_step,
)
from drimlab.scenarios.schema import Expectation, Role, Scenario, Step, StepKind
from drimlab.scenarios.serving import LISTEN_HOST, address_run, serves
from drimlab.simulators.address import public_host
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.store import Store
from drimlab.store.queries import first_peer
from drimlab.validation.assess import Selection

STOP_WORDS = {"q", "quit", "stop"}
SKIP_WORDS = {"s", "skip"}


class Prompter(Protocol):
    """How a run talks to its user."""

    def say(self, text: str) -> None: ...

    def ask(self, prompt: str) -> str | None:
        """The user's answer, or None at end of input."""
        ...


@dataclass(frozen=True)
class Outcome:
    """Where a drive of a run ended."""

    run: RunState
    interrupted: bool


class _Values(dict[str, str]):
    """Text substitution that leaves unknown placeholders as they are."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, values: Mapping[str, str]) -> str:
    """The text with `{name}` replaced by the run's values (unknown names are kept)."""
    try:
        return string.Formatter().vformat(text, (), _Values(values))
    except (ValueError, IndexError):
        return text


def resolve_inputs(
    scenario: Scenario, given: Mapping[str, str], prompter: Prompter | None
) -> dict[str, str]:
    """The scenario's inputs: given values, defaults, and (interactive) answers to prompts."""
    known = {i.name for i in scenario.inputs}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError(
            f"unknown input(s) {', '.join(unknown)} for {scenario.id}; "
            f"it takes: {', '.join(sorted(known)) or 'none'}"
        )
    values: dict[str, str] = {}
    for spec in scenario.inputs:
        value = given.get(spec.name)
        if value is None and spec.default is not None:
            value = spec.default
        if value is None and spec.required:
            if prompter is None:
                raise InputError(f"{scenario.id} needs the input {spec.name!r} ({spec.text.en})")
            answer = prompter.ask(f"{spec.name} ({spec.text.en}): ")
            if not answer:
                raise InputError(f"{scenario.id} needs the input {spec.name!r}")
            value = answer.strip()
        if value is not None:
            values[spec.name] = value
    return values


def _needs_source(scenario: Scenario) -> bool:
    return any(s.action in ("retrieve", "probes") for s in scenario.steps)


def catalogue_exam(store: Store, scenario: Scenario, values: Mapping[str, str]) -> ExamInfo:
    """The dataset exam a run names (input `exam`), or the first of the scenario's dataset."""
    key = values.get("exam", "").strip()
    if key:
        return get_exam(store, key)
    dataset = scenario.prerequisites.dataset
    exams = [e for e in list_exams(store) if e.dataset == dataset]
    if not exams:
        raise InputError(f"dataset {dataset!r} has no exam (see: drimlab dataset list)")
    return exams[0]


def resolve_exam(
    store: Store, scenario: Scenario, values: Mapping[str, str]
) -> tuple[ExamTarget, str]:
    """The exam the run is about (from a KOS file, or the dataset) and its dataset name."""
    dataset = scenario.prerequisites.dataset
    kos_file = values.get("kos_file", "").strip()
    if kos_file:
        path = Path(kos_file).expanduser()
        kos = read_kos(path)
        if not kos.series:
            raise InputError(f"{path}: the KOS references no series")
        target = actions.exam_target(
            store,
            study_uid=kos.study_instance_uid,
            kos_uid=values.get("kos_uid") or kos.sop_instance_uid,
            name=values.get("exam") or kos.study_instance_uid,
            kos_path=path,
            kos=kos,
        )
        return target, dataset
    if _needs_source(scenario) and not values.get("base_url"):
        raise InputError(f"{scenario.id} needs the input base_url or kos_file")
    exam = catalogue_exam(store, scenario, values)
    # the catalogue's KOS of that UID when there is one (e.g. built for a run's own server)
    wanted = values.get("kos_uid")
    manifest = next((m for m in exam.manifests if m.sop_instance_uid == wanted), exam.kos)
    kos_path = manifest.path if manifest is not None else None
    summary = read_kos(kos_path) if kos_path is not None else None
    kos_uid = wanted or (manifest.sop_instance_uid if manifest else None)
    target = actions.exam_target(
        store,
        study_uid=exam.study_instance_uid,
        kos_uid=kos_uid,
        name=exam.name,
        kos_path=kos_path,
        kos=summary,
    )
    return target, exam.dataset


def _prepare(store: Store, settings: Settings, scenario: Scenario) -> BenchEnvironment:
    env = BenchEnvironment.prepare(store, settings)
    names = {e.name for e in env.pki.entries}
    missing = [c for c in scenario.prerequisites.certificates if c not in names]
    if missing:
        raise InputError(f"{scenario.id} needs test certificate(s) {', '.join(missing)}")
    return env


def start_run(
    store: Store,
    settings: Settings,
    scenario: Scenario,
    given: Mapping[str, str],
    *,
    interactive: bool,
    language: str = "en",
    prompter: Prompter | None = None,
    selection: Selection | None = None,
) -> RunState:
    """Check the inputs, prepare the bench, resolve the exam and store a new run.

    `selection` (profile, --select, --ignore, --severity) is kept with the run's values, so a
    resumed run judges with the same rules.
    """
    if language not in ("fr", "en"):
        raise InputError(f"language {language!r} must be fr or en")
    values = resolve_inputs(scenario, given, prompter if interactive else None)
    check_inputs(scenario, values)
    if selection is not None:
        values[RULES_VALUE] = json.dumps(selection.as_dict(), sort_keys=True)
    unaddressed = not values.get("base_url") and not values.get("kos_file")
    if interactive and prompter is not None and _needs_source(scenario) and unaddressed:
        answer = prompter.ask("base_url (WADO-RS base URL of the source under test): ")
        if answer and answer.strip():
            values["base_url"] = answer.strip()
            check_inputs(scenario, values)
    env = _prepare(store, settings, scenario)
    if serves(scenario) and not values.get("kos_file"):
        catalogued = catalogue_exam(store, scenario, values)
        values.update(address_run(store, settings, env, catalogued, values))
    exam, _ = resolve_exam(store, scenario, values)
    return create_run(
        store,
        scenario,
        mode="interactive" if interactive else "auto",
        language=language,
        inputs=values,
        study_uid=exam.study_uid,
        kos_uid=exam.kos_uid,
    )


def check_expectation(expect: Expectation, observations: Sequence[Observation]) -> list[str]:
    """Why the observations of a VALIDATION step do not meet its expectation (empty: they do)."""
    if not observations:
        return ["nothing was exchanged"]
    problems = []
    for seen in observations:
        shown = "no HTTP answer" if seen.status is None else f"HTTP {seen.status}"
        if expect.refused:
            if seen.status is not None and seen.status < 400:
                problems.append(f"{seen.subject}: {shown}, expected a refusal")
        elif expect.status and seen.status not in expect.status:
            wanted = " or ".join(str(s) for s in expect.status)
            problems.append(f"{seen.subject}: {shown}, expected {wanted}")
        if expect.verdict not in ("any", seen.verdict):
            problems.append(f"{seen.subject}: report {seen.verdict}, expected {expect.verdict}")
    return problems


class Driver:
    """Settles the waiting steps of one run."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        scenario: Scenario,
        run: RunState,
        prompter: Prompter,
        *,
        interactive: bool,
        evidence: Mapping[str, Sequence[Path]] | None = None,
    ) -> None:
        if run.scenario_id != scenario.id:
            raise InputError(f"run {run.id} is a run of {run.scenario_id}, not {scenario.id}")
        if run.scenario_sha256 and scenario.sha256 and run.scenario_sha256 != scenario.sha256:
            raise InputError(
                f"the definition of {scenario.id} changed since run {run.id} started: "
                "start a new run"
            )
        self.store, self.settings, self.scenario = store, settings, scenario
        self.run_id = run.id
        self.prompter = prompter
        self.interactive = interactive
        self.evidence = dict(evidence or {})
        self.language = run.language
        env = _prepare(store, settings, scenario)
        values = {k: str(v) for k, v in run.inputs.items()}
        exam, dataset = resolve_exam(store, scenario, values)
        values.update(
            {
                "dataset": dataset,
                "exam": exam.exam_name,
                "study_uid": exam.study_uid,
                "kos_uid": exam.kos_uid or "",
                "kos_path": str(exam.kos_path or "-"),
                "pki_bundle": str(env.pki.bundle_path),
                "whitelist": str(env.whitelist_path),
                "consumer_cert": str(env.pki.chain_path(CONSUMER_CERT)),
            }
        )
        self.values = values
        self.exam = exam
        self.env = env

    def _context(self) -> RunContext:
        return RunContext(
            store=self.store,
            settings=self.settings,
            env=self.env,
            values=self.values,
            exam=self.exam,
            run_dir=self.settings.home / "runs" / self.run_id,
            interactive=self.interactive,
            say=self.prompter.say,
        )

    def drive(self, max_steps: int | None = None) -> Outcome:
        """Run every waiting step; stop (resumable) when the user stops or input ends.

        `max_steps` settles at most that many steps, then stops (resumable): a browser runs
        one step per page.
        """
        run = load_run(self.store, self.run_id)
        if run.status is not RunStatus.RUNNING:
            raise InputError(f"run {run.id} is already finished ({run.status.value})")
        say = self.prompter.say
        say(f"{self.scenario.id} — {self.scenario.title.get(self.language)} (run {run.id})")
        settled = 0
        for state in run.steps:
            if state.status is not StepStatus.WAITING:
                continue
            if max_steps is not None and settled >= max_steps:
                return Outcome(load_run(self.store, self.run_id), interrupted=True)
            settled += 1
            step = self.scenario.steps[state.position]
            if not self._settle(state.position, step):
                say(
                    f"run {run.id} stopped at step {step.id}: resume with "
                    f"`drimlab scenario resume {run.id}`"
                )
                return Outcome(load_run(self.store, self.run_id), interrupted=True)
        final = load_run(self.store, self.run_id)
        failed = any(s.status is StepStatus.FAILED for s in final.steps)
        finish_run(self.store, self.run_id, RunStatus.FAILED if failed else RunStatus.DONE)
        return Outcome(load_run(self.store, self.run_id), interrupted=False)

    # -- one step -------------------------------------------------------------------------

    def _settle(self, position: int, step: Step) -> bool:
        update_step(self.store, self.run_id, position, started=True)
        self.prompter.say(f"\n[{step.kind.value}] {step.id} ({step.actor.value})")
        if step.kind is StepKind.INSTRUCTION:
            return self._instruction(position, step)
        if step.kind is StepKind.PREUVE:
            return self._preuve(position, step)
        self._validation(position, step)
        return True

    def _act(self, step: Step) -> ActionResult:
        assert step.action is not None
        if step.action == "serve" and (self.values.get("port") or "0") == "0":
            from drimlab.simulators.runner import free_port  # noqa: PLC0415

            self.values = {**self.values, "port": str(free_port())}
        if step.action == "serve":
            scheme = "http" if self._context().flag("insecure_http") else "https"
            # the host name on the simulator's certificate and the bench whitelist
            host = public_host(LISTEN_HOST, self.env)
            self.values["server_url"] = f"{scheme}://{host}:{self.values['port']}/dicom-web"
        return actions.ACTIONS[step.action](self._context(), step)

    def _instruction(self, position: int, step: Step) -> bool:
        kept: list[EvidenceFile] = []
        facts: dict[str, Any] = {}
        if step.action is not None:
            result = self._act(step)
            self.values.update(result.values)
            facts = dict(result.facts)
            for name, path in result.artifacts:
                kept.append(
                    keep_evidence(self.store, self.run_id, step.id, name, path, origin="drimlab")
                )
            update_step(self.store, self.run_id, position, evidence=kept, facts=facts)
        self.prompter.say(fill(step.text.get(self.language), self.values))
        if not self.interactive:
            update_step(self.store, self.run_id, position, status=StepStatus.DONE)
            return True
        answer = self.prompter.ask("Press Enter when done (s: skip, q: stop) ")
        if answer is None or answer.strip().lower() in STOP_WORDS:
            return False
        skipped = answer.strip().lower() in SKIP_WORDS
        update_step(
            self.store,
            self.run_id,
            position,
            status=StepStatus.SKIPPED if skipped else StepStatus.DONE,
            detail="skipped by the user" if skipped else "",
        )
        return True

    def _preuve(self, position: int, step: Step) -> bool:
        self.prompter.say(fill(step.text.get(self.language), self.values))
        kept: list[EvidenceFile] = []
        missing: list[str] = []
        given = list(self.evidence.get(step.id, ()))
        for name in step.evidence:
            if not self.interactive:
                files = given or list(self.evidence.get(name, ()))
                if not files:
                    missing.append(name)
                for path in files:
                    kept.append(keep_evidence(self.store, self.run_id, step.id, name, path))
                given = []
                continue
            while True:
                answer = self.prompter.ask(f"Path of the file '{name}' (s: skip, q: stop) ")
                if answer is None or answer.strip().lower() in STOP_WORDS:
                    update_step(self.store, self.run_id, position, evidence=kept)
                    return False
                if answer.strip().lower() in SKIP_WORDS:
                    missing.append(name)
                    break
                try:
                    kept.append(
                        keep_evidence(
                            self.store,
                            self.run_id,
                            step.id,
                            name,
                            Path(answer.strip()).expanduser(),
                        )
                    )
                    break
                except InputError as exc:
                    self.prompter.say(f"  {exc}")
        status = StepStatus.SKIPPED if missing else StepStatus.DONE
        detail = f"no evidence for: {', '.join(missing)}" if missing else ""
        update_step(self.store, self.run_id, position, status=status, detail=detail, evidence=kept)
        for item in kept:
            self.prompter.say(f"  kept {item.original} (sha256 {item.sha256[:16]}…)")
        return True

    def _validation(self, position: int, step: Step) -> None:
        self.prompter.say(fill(step.text.get(self.language), self.values))
        try:
            result = self._act(step)
        except DrimlabError as exc:
            update_step(
                self.store, self.run_id, position, status=StepStatus.FAILED, detail=str(exc)
            )
            self.prompter.say(f"  FAILED: {exc}")
            return
        problems = check_expectation(step.expect, result.observations)
        facts = dict(result.facts)
        facts["observations"] = [o.__dict__ for o in result.observations]
        peer = self._peer(result.observations)
        if peer:
            facts["peer"] = peer
        update_step(
            self.store,
            self.run_id,
            position,
            status=StepStatus.FAILED if problems else StepStatus.DONE,
            detail="; ".join(problems),
            exchange_ids=[
                *(o.exchange_id for o in result.observations if o.exchange_id),
                *result.exchanges,
            ],
            report_ids=[o.report_id for o in result.observations if o.report_id],
            facts=facts,
        )
        self.prompter.say("  " + ("FAILED: " + "; ".join(problems) if problems else "done"))

    def _peer(self, observations: Sequence[Observation]) -> dict[str, Any]:
        seen = [o.exchange_id for o in observations if o.exchange_id is not None]
        return first_peer(self.store, seen)


def drive_run(
    store: Store,
    settings: Settings,
    scenario: Scenario,
    run_id: str,
    prompter: Prompter,
    *,
    interactive: bool,
    evidence: Mapping[str, Sequence[Path]] | None = None,
    max_steps: int | None = None,
) -> Outcome:
    """Settle the waiting steps of a stored run (at most `max_steps` of them when given)."""
    run = load_run(store, run_id)
    driver = Driver(
        store, settings, scenario, run, prompter, interactive=interactive, evidence=evidence
    )
    return driver.drive(max_steps)


def role_label(scenario: Scenario) -> str:
    return "source DRIMBox" if scenario.role is Role.SOURCE else "consumer DRIMBox"
