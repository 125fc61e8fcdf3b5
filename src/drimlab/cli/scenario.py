"""`drimlab scenario`: list, show, run and resume homologation scenarios.

Exit statuses of `run` / `resume`: 0 every step settled and none failed, 1 a step failed,
3 the run stopped before its end (resume it), 2 unusable input.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from drimlab.cli._common import LangOption, console, fail, state
from drimlab.cli.reporting import (
    IgnoreOption,
    ProfileOption,
    SelectOption,
    SeverityOption,
    selection,
)
from drimlab.scenarios.inputs import check_evidence
from drimlab.scenarios.junit import render_run_junit
from drimlab.scenarios.loader import get_scenario, load_all
from drimlab.scenarios.runner import Outcome, drive_run, start_run
from drimlab.scenarios.runs import RunStatus, list_runs, load_run
from drimlab.scenarios.schema import Scenario

scenario_app = typer.Typer(help="Homologation scenarios: list, show, run, resume.")
INTERRUPTED = 3


class ConsolePrompter:
    """Prints to the console and reads answers line by line from standard input."""

    def say(self, text: str) -> None:
        typer.echo(text)

    def ask(self, prompt: str) -> str | None:
        typer.echo(prompt, nl=False)
        line = sys.stdin.readline()
        if not line:
            typer.echo("")
            return None
        return line.rstrip("\n")


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            fail(f"{what} {value!r}: use NAME=VALUE")
        out.append((name.strip(), rest))
    return out


def _read_file(path: Path) -> tuple[dict[str, str], dict[str, list[Path]]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")
    except UnicodeDecodeError:
        fail(f"{path}: not a text file (expected YAML or JSON in UTF-8)")
    except yaml.YAMLError as exc:
        fail(f"{path}: not valid YAML/JSON: {str(exc).splitlines()[0]}")
    if not isinstance(data, dict) or not set(data) <= {"inputs", "evidence"}:
        fail(f"{path}: expected a mapping with 'inputs' and/or 'evidence'")
    inputs = data.get("inputs") or {}
    evidence = data.get("evidence") or {}
    if not isinstance(inputs, dict) or not isinstance(evidence, dict):
        fail(f"{path}: 'inputs' and 'evidence' must be mappings")
    files: dict[str, list[Path]] = {}
    for key, value in evidence.items():
        items = value if isinstance(value, list) else [value]
        files[str(key)] = [(path.parent / str(v)).expanduser() for v in items]
    return {str(k): str(v) for k, v in inputs.items() if v is not None}, files


def _evidence(values: list[str]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for step, file in _pairs(values, "--evidence"):
        out.setdefault(step, []).append(Path(file).expanduser())
    return out


def _finish(scenario: Scenario, outcome: Outcome, junit: Path | None) -> None:
    run = outcome.run
    if junit is not None:
        try:
            junit.write_text(render_run_junit(scenario, run), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {junit}: {exc.strerror}")
    counts: dict[str, int] = {}
    for step in run.steps:
        counts[step.status.value] = counts.get(step.status.value, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    typer.echo(f"\nrun {run.id}: {run.status.value} ({summary})")
    if outcome.interrupted:
        raise typer.Exit(INTERRUPTED)
    if run.status is RunStatus.FAILED:
        raise typer.Exit(1)


@scenario_app.command("list")
def list_command(
    ctx: typer.Context,
    lang: LangOption = "en",
) -> None:
    """List the shipped scenarios and the ones in <home>/scenarios/."""
    table = Table("id", "role", "steps", "title")
    for scenario in load_all(state(ctx).settings).values():
        table.add_row(
            scenario.id, scenario.role.value, str(len(scenario.steps)), scenario.title.get(lang)
        )
    console.print(table)


@scenario_app.command("show")
def show_command(
    ctx: typer.Context,
    scenario_id: Annotated[str, typer.Argument(metavar="ID", help="Scenario id.")],
    lang: LangOption = "en",
) -> None:
    """Print a scenario: role, prerequisites, inputs and every step."""
    scenario = get_scenario(scenario_id, state(ctx).settings)
    out = typer.echo
    out(f"{scenario.id} (v{scenario.version}) — {scenario.title.get(lang)}")
    out(scenario.summary.get(lang))
    pre = scenario.prerequisites
    out(f"role under test: {scenario.role.value}")
    certificates = ", ".join(pre.certificates) or "-"
    whitelist = "yes" if pre.whitelist else "no"
    out(
        f"prerequisites: dataset {pre.dataset}; certificates {certificates}; "
        f"signed whitelist {whitelist}"
    )
    for spec in scenario.inputs:
        flag = " (required)" if spec.required else ""
        default = f" [default {spec.default}]" if spec.default is not None else ""
        out(f"  input {spec.name}{flag}{default}: {spec.text.get(lang)}")
    for number, step in enumerate(scenario.steps, start=1):
        out(f"\n{number}. [{step.kind.value}] {step.id} — {step.actor.value}")
        out(f"   {step.text.get(lang)}")
        if step.action:
            out(f"   action: {step.action} {dict(step.params) or ''}".rstrip())
        if step.evidence:
            out(f"   evidence: {', '.join(step.evidence)}")
        if step.kind.value == "VALIDATION":
            exp = step.expect
            wanted = "refusal" if exp.refused else " or ".join(map(str, exp.status)) or "any"
            out(f"   expects: HTTP {wanted}, report {exp.verdict}")


@scenario_app.command("run")
def run_command(
    ctx: typer.Context,
    scenario_id: Annotated[str, typer.Argument(metavar="ID", help="Scenario id.")],
    auto: Annotated[
        bool, typer.Option("--auto", help="Unattended: take every input up front (CI).")
    ] = False,
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="An input as NAME=VALUE (repeatable)."),
    ] = None,
    inputs_file: Annotated[
        Path | None,
        typer.Option("--inputs", help="YAML/JSON file with 'inputs' and 'evidence' mappings."),
    ] = None,
    evidence: Annotated[
        list[str] | None,
        typer.Option("--evidence", "-e", help="STEP=FILE evidence for a PREUVE step (repeatable)."),
    ] = None,
    lang: LangOption = "en",
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write JUnit XML, one test case per step.")
    ] = None,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
) -> None:
    """Run a scenario, interactively or unattended (--auto)."""
    chosen = selection(profile, select, ignore, severity)
    cli = state(ctx)
    scenario = get_scenario(scenario_id, cli.settings)
    given: dict[str, str] = {}
    files: dict[str, list[Path]] = {}
    if inputs_file is not None:
        given, files = _read_file(inputs_file)
    given.update(dict(_pairs(inputs or [], "--input")))
    for step, paths in _evidence(evidence or []).items():
        files.setdefault(step, []).extend(paths)
    check_evidence(scenario, files)
    prompter = ConsolePrompter()
    run = start_run(
        cli.store,
        cli.settings,
        scenario,
        given,
        interactive=not auto,
        language=lang,
        prompter=prompter,
        selection=chosen,
    )
    outcome = drive_run(
        cli.store, cli.settings, scenario, run.id, prompter, interactive=not auto, evidence=files
    )
    _finish(scenario, outcome, junit)


@scenario_app.command("resume")
def resume_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    auto: Annotated[bool, typer.Option("--auto", help="Finish the run unattended.")] = False,
    evidence: Annotated[
        list[str] | None,
        typer.Option("--evidence", "-e", help="STEP=FILE evidence for a PREUVE step (repeatable)."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Write JUnit XML, one test case per step.")
    ] = None,
) -> None:
    """Carry on a stopped run from its first waiting step."""
    cli = state(ctx)
    run = load_run(cli.store, run_id)
    scenario = get_scenario(run.scenario_id, cli.settings)
    outcome = drive_run(
        cli.store,
        cli.settings,
        scenario,
        run.id,
        ConsolePrompter(),
        interactive=not auto,
        evidence=_evidence(evidence or []),
    )
    _finish(scenario, outcome, junit)


@scenario_app.command("runs")
def runs_command(ctx: typer.Context) -> None:
    """List the stored runs, newest first."""
    table = Table("run", "scenario", "mode", "status", "steps", "started")
    for run in list_runs(state(ctx).store):
        settled: dict[str, Any] = {}
        for step in run.steps:
            settled[step.status.value] = settled.get(step.status.value, 0) + 1
        table.add_row(
            run.id,
            run.scenario_id,
            run.mode,
            run.status.value,
            ", ".join(f"{n} {s}" for s, n in sorted(settled.items())),
            run.created_at.isoformat(timespec="seconds"),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `drimlab scenario` to the root app."""
    app.add_typer(scenario_app, name="scenario")
