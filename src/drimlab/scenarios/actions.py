"""What drimlab does in a step: retrieve as the client simulator, serve as the server
simulator, run the probe battery, or hand the vendor a broken whitelist.

Each action takes the run's context and the step's parameters and returns what it produced:
the stored exchanges and reports, one observation per exchange (status, verdict, refusal)
and any file it made for the vendor. A non-conformance of the system under test is in the
observations and reports, never an exception.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from pydicom.uid import generate_uid

from drimlab.config import Settings
from drimlab.datasets.catalog import exam_series
from drimlab.documents.kos import Kos
from drimlab.documents.xml import parse_untrusted
from drimlab.errors import ConfigurationError, InputError
from drimlab.scenarios.schema import Step
from drimlab.simulators.environment import CONSUMER_CERT, BenchEnvironment
from drimlab.store import Store
from drimlab.store.queries import stored_exchange
from drimlab.tokens import TokenIssuer
from drimlab.trust.pki import write_file
from drimlab.validation.assess import Selection
from drimlab.validation.report import Report

XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
LEVELS = ("study", "series", "instance", "frames")
Say = Callable[[str], None]


@dataclass(frozen=True)
class ExamTarget:
    """The exam a run is about, as the runner resolved it from the inputs."""

    study_uid: str
    kos_uid: str | None
    exam_name: str
    series: tuple[str, ...]
    first_instance: str | None
    kos_path: Path | None
    kos: Kos | None


#: The run value that keeps the rule selection a run was started with.
RULES_VALUE = "rules"


@dataclass(frozen=True)
class RunContext:
    """What an action may use: the store, the bench environment, the inputs, the exam."""

    store: Store
    settings: Settings
    env: BenchEnvironment
    values: Mapping[str, str]
    exam: ExamTarget
    run_dir: Path
    interactive: bool
    say: Say

    def flag(self, name: str) -> bool:
        return self.values.get(name, "").strip().lower() in {"1", "true", "yes", "on"}

    def path(self, name: str) -> Path | None:
        value = self.values.get(name, "").strip()
        return Path(value).expanduser() if value else None

    @property
    def selection(self) -> Selection:
        """The rules this run judges with (kept with its values; the input `profile` else)."""
        stored = self.values.get(RULES_VALUE)
        if stored:
            return Selection.from_dict(json.loads(stored))
        return Selection.of(self.values.get("profile") or "drim-m")


@dataclass(frozen=True)
class Observation:
    """What one exchange of a step showed."""

    exchange_id: str | None
    report_id: str | None
    status: int | None
    verdict: str
    subject: str


@dataclass(frozen=True)
class ActionResult:
    """What an action produced."""

    observations: tuple[Observation, ...] = ()
    exchanges: tuple[str, ...] = ()  # exchanges behind a report that sums several up
    artifacts: tuple[tuple[str, Path], ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)


def _observe(exchange_id: str, report_id: str, report: Report, status: int | None) -> Observation:
    return Observation(exchange_id, report_id, status, report.verdict.value, report.subject)


# -- client simulator ---------------------------------------------------------------------


def _retrieve_options(ctx: RunContext, step: Step) -> Any:
    from drimlab.simulators.consumer import RetrieveOptions  # noqa: PLC0415 - heavy, on demand
    from drimlab.simulators.retrieval import ACCEPT_LISTS  # noqa: PLC0415

    params = step.params
    level = str(params.get("level", "series"))
    if level not in LEVELS:
        raise InputError(f"step {step.id}: level {level!r} must be one of {', '.join(LEVELS)}")
    named = str(params.get("accept", "lossless-first"))
    if named not in ACCEPT_LISTS:
        raise InputError(f"step {step.id}: accept {named!r} must be {' or '.join(ACCEPT_LISTS)}")
    exam = ctx.exam
    series: tuple[str, ...] = ()
    instance = None
    if level in ("instance", "frames") or params.get("series", "all") == "first":
        if not exam.series:
            raise InputError(f"step {step.id}: the exam lists no series")
        series = exam.series[:1]
    if level in ("instance", "frames"):
        if exam.first_instance is None:
            raise InputError(f"step {step.id}: the exam lists no instance")
        instance = exam.first_instance
    kos_uid = exam.kos_uid
    if params.get("kos") == "unknown":
        kos_uid = generate_uid()
    cert = key = None
    chosen = str(params.get("cert", CONSUMER_CERT))
    if chosen != CONSUMER_CERT:
        cert, key = ctx.env.pki.chain_path(chosen), ctx.env.pki.key_path(chosen)
    insecure = ctx.flag("insecure_http")
    base_url = ctx.values.get("base_url") or None
    return RetrieveOptions(
        base_url=base_url,
        study=exam.study_uid,
        series=series,
        instance=instance,
        kos_path=exam.kos_path,
        kos_uid=kos_uid,
        level=cast(Any, level),
        frames=tuple(int(f) for f in str(params.get("frames", "1")).split(",")),
        accept=None if level == "frames" else ACCEPT_LISTS[named],
        cert=cert,
        key=key,
        ca=ctx.path("ca"),
        insecure_http=insecure,
        check_whitelist=not insecure,
        selection=ctx.selection,
        keep_dir=parts_dir(ctx.run_dir, step.id),
    )


def parts_dir(run_dir: Path, step_id: str) -> Path:
    """Where the client simulator keeps the parts it received in a step (for the bundle)."""
    return run_dir / "parts" / step_id


def _token(ctx: RunContext, kind: str) -> str | None:
    if kind == "invalid":
        # Signed by a key no source knows: a well-formed token that must be refused.
        stranger = TokenIssuer(private_key=rsa.generate_private_key(65537, 2048))
        return stranger.issue()
    if kind in ("valid", "missing"):
        return None
    raise InputError(f"token {kind!r} must be valid, missing or invalid")


def retrieve(ctx: RunContext, step: Step) -> ActionResult:
    """The client simulator retrieves from the source under test; every exchange is stored."""
    from drimlab.simulators import consumer  # noqa: PLC0415 - heavy, on demand

    options = _retrieve_options(ctx, step)
    kind = str(step.params.get("token", "valid"))
    token = _token(ctx, kind)
    observations: list[Observation] = []
    if kind == "missing":
        # retrieve() always adds a token: build the same requests without the header.
        target = consumer.resolve_target(options)
        requests = consumer.plan_requests(
            target, level=options.level, accept=options.accept, token=None, frames=options.frames
        )
        trust = consumer.client_trust(ctx.store, ctx.settings, options)
        for request in requests:
            outcome = consumer.exchange_once(
                request, trust, kos=target.kos, selection=options.chosen, timeout=options.timeout
            )
            record = consumer.store_outcome(ctx.store, outcome)
            observations.append(
                _observe(record.exchange_id, record.report_id, record.report, record.status)
            )
    else:
        if token is not None:
            options = replace(options, token=token)
        result = consumer.retrieve(ctx.store, ctx.settings, options)
        observations += [
            _observe(r.exchange_id, r.report_id, r.report, r.status) for r in result.records
        ]
    for item in observations:
        shown = item.status if item.status is not None else "-"
        ctx.say(f"  {item.subject}: HTTP {shown}, {item.verdict}")
    return ActionResult(
        tuple(observations), facts={"validated_with_kos": options.kos_path is not None}
    )


def health(ctx: RunContext, step: Step) -> ActionResult:
    """The client simulator sends the ANS health check (GET {base}) to the source under test."""
    from drimlab.simulators.health import check_health  # noqa: PLC0415 - heavy, on demand

    options = _retrieve_options(ctx, step)
    record = check_health(ctx.store, ctx.settings, options)
    shown = record.status if record.status is not None else "-"
    ctx.say(f"  health check {record.url}: HTTP {shown}, {record.report.verdict.value}")
    observation = _observe(record.exchange_id, record.report_id, record.report, record.status)
    return ActionResult((observation,), facts={"validated_with_kos": options.kos_path is not None})


def probes(ctx: RunContext, step: Step) -> ActionResult:
    """The client simulator runs the robustness probe battery against the source."""
    from drimlab.simulators.consumer import run_probes  # noqa: PLC0415 - heavy, on demand

    options = _retrieve_options(ctx, step)
    concurrency = int(step.params.get("concurrency", 8))
    burst = int(step.params.get("burst", 20))
    report_id, report = run_probes(
        ctx.store, ctx.settings, options, concurrency=concurrency, burst=burst
    )
    ctx.say(f"  probe battery: {report.verdict.value}")
    probed = report.facts.get("probes", [])
    exchanges = tuple(
        str(p["exchange_id"]) for p in probed if isinstance(p, dict) and p.get("exchange_id")
    )
    return ActionResult(
        (Observation(None, report_id, None, report.verdict.value, report.subject),),
        exchanges=exchanges,
        facts={"validated_with_kos": options.kos_path is not None},
    )


# -- server simulator ---------------------------------------------------------------------


def _trigger_env(ctx: RunContext, server_url: str) -> dict[str, str]:
    pki = ctx.env.pki
    env = dict(os.environ)
    env.update(
        {
            "DRIMLAB_SCENARIO_BASE_URL": server_url,
            "DRIMLAB_SCENARIO_STUDY_UID": ctx.exam.study_uid,
            "DRIMLAB_SCENARIO_KOS_UID": ctx.exam.kos_uid or "",
            "DRIMLAB_SCENARIO_KOS_FILE": str(ctx.exam.kos_path or ""),
            "DRIMLAB_SCENARIO_SERIES_UIDS": " ".join(ctx.exam.series),
            "DRIMLAB_SCENARIO_CA": str(pki.bundle_path),
            "DRIMLAB_SCENARIO_CERT": str(pki.chain_path(CONSUMER_CERT)),
            "DRIMLAB_SCENARIO_KEY": str(pki.key_path(CONSUMER_CERT)),
            "DRIMLAB_SCENARIO_WHITELIST": str(ctx.env.whitelist_path),
            "DRIMLAB_SCENARIO_TOKEN": ctx.env.issuer.issue(),
        }
    )
    return env


def _run_trigger(ctx: RunContext, command: str, server_url: str, timeout: float) -> dict[str, Any]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InputError(f"trigger {command!r}: {exc}") from None
    if not argv:
        raise InputError("trigger is empty")
    log = ctx.run_dir / "trigger.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("wb") as out:
            done = subprocess.run(
                argv,
                env=_trigger_env(ctx, server_url),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
    except FileNotFoundError:
        raise InputError(f"trigger {argv[0]!r}: no such program") from None
    except subprocess.TimeoutExpired:
        return {"trigger": argv[0], "trigger_exit": None, "trigger_problem": "timed out"}
    return {"trigger": argv[0], "trigger_exit": done.returncode}


def serve(ctx: RunContext, step: Step) -> ActionResult:
    """The server simulator answers the consumer under test; its requests are recorded."""
    from drimlab.simulators.address import public_host  # noqa: PLC0415
    from drimlab.simulators.serve import SourceOptions, source_in_thread  # noqa: PLC0415

    wanted = int(step.params.get("requests", 1))
    faults = tuple(str(f) for f in step.params.get("faults", ()))
    try:
        port = int(ctx.values.get("port") or 0)
        timeout = float(ctx.values.get("timeout") or 120)
    except ValueError:
        raise InputError("port and timeout must be numbers") from None
    insecure = ctx.flag("insecure_http")
    options = SourceOptions(
        port=port,
        crl_port=None,
        faults=faults,
        insecure_http=insecure,
        selection=ctx.selection,
    )
    facts: dict[str, Any] = {}
    with source_in_thread(ctx.store, ctx.env, options) as (setup, server):
        scheme = "http" if insecure else "https"
        host = public_host(options.host, ctx.env)  # the certificate's and whitelist's host
        server_url = f"{scheme}://{host}:{server.port}{options.base_path}"
        ctx.say(f"  server simulator listening on {server_url}")
        trigger = ctx.values.get("trigger", "").strip()
        if trigger:
            facts.update(_run_trigger(ctx, trigger, server_url, timeout))
        elif not ctx.interactive:
            raise InputError(f"step {step.id}: unattended runs need the input 'trigger'")
        else:
            ctx.say(f"  waiting up to {timeout:g} s for {wanted} request(s) from the consumer")
        setup.recorder.wait_for(wanted, timeout=timeout if not trigger else 10.0)
        recorded = list(setup.recorder.recorded)
        failures = list(setup.recorder.failures)
    if failures:
        raise ConfigurationError(f"the server simulator could not record: {failures[0]}")
    observations = []
    for item in recorded:
        row = stored_exchange(ctx.store, item.exchange_id)
        status = row.status if row is not None else None
        observations.append(_observe(item.exchange_id, item.report_id, item.report, status))
        ctx.say(f"  received {item.report.subject}: {item.report.verdict.value}")
    facts["server_url"] = server_url
    facts["validated_with_kos"] = True
    return ActionResult(tuple(observations), facts=facts, values={"server_url": server_url})


# -- material for the vendor --------------------------------------------------------------


def whitelist(ctx: RunContext, step: Step) -> ActionResult:
    """Write a corrupted or an unsigned copy of the bench's signed whitelist for the vendor."""
    variant = str(step.params.get("variant", "corrupted"))
    original = ctx.env.whitelist_path.read_bytes()
    if variant == "corrupted":
        # One character of a signed value changes: the signature no longer verifies.
        marker = b"<Denomination>"
        at = original.find(marker)
        if at < 0:
            raise ConfigurationError(f"{ctx.env.whitelist_path} has no Denomination to corrupt")
        at += len(marker)
        flipped = b"X" if original[at : at + 1] != b"X" else b"Y"
        data = original[:at] + flipped + original[at + 1 :]
    elif variant == "unsigned":
        root = parse_untrusted(original, str(ctx.env.whitelist_path))
        for signature in root.findall(f"{{{XMLDSIG_NS}}}Signature"):
            root.remove(signature)
        data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    else:
        raise InputError(f"step {step.id}: whitelist variant {variant!r} is not corrupted/unsigned")
    path = ctx.run_dir / f"whitelist-{variant}.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, data, mode=0o644)
    return ActionResult(
        artifacts=((f"whitelist-{variant}", path),),
        facts={"variant": variant},
        values={"artifact": str(path)},
    )


ACTIONS: dict[str, Callable[[RunContext, Step], ActionResult]] = {
    "retrieve": retrieve,
    "health": health,
    "probes": probes,
    "serve": serve,
    "whitelist": whitelist,
}


def exam_target(
    store: Store,
    *,
    study_uid: str,
    kos_uid: str | None,
    name: str,
    kos_path: Path | None,
    kos: Kos | None,
) -> ExamTarget:
    """The series and first instance of an exam, from its KOS or the catalogue."""
    if kos is not None:
        series = tuple(s.series_instance_uid for s in kos.series)
        first = (
            kos.series[0].instances[0].sop_instance_uid
            if kos.series and kos.series[0].instances
            else None
        )
    else:
        infos = exam_series(store, study_uid)
        series = tuple(s.series_instance_uid for s in infos)
        first = infos[0].instances[0].sop_instance_uid if infos and infos[0].instances else None
    return ExamTarget(study_uid, kos_uid, name, series, first, kos_path, kos)
