"""The monitor's check of an evidence bundle: `verify_bundle(path, anchors)`.

In order: the manifest's signature and its signer's chain; the SHA-256 of every listed file
(and no unlisted one); each stored exchange re-validated with the current rules and compared
with its stored report; each VALIDATION step's reports about the scenario's exam (study UID,
KOS SOPInstanceUID) and meeting the step's expectation, over TLS; each PREUVE present. The
verdict is VERIFIED, PARTIALLY_VERIFIED (something is missing, nothing is wrong: a plain-HTTP
debugging run lacks the TLS proof) or FAILED (with reasons).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509

from drimlab.dicomweb.paths import PathError, parse_target
from drimlab.documents.kos import Kos, read_kos
from drimlab.domain import KOS_HEADER
from drimlab.errors import DrimlabError, InputError
from drimlab.exchange import Exchange
from drimlab.scenarios.actions import Observation
from drimlab.scenarios.bundle import META_FILES
from drimlab.scenarios.loader import load_text
from drimlab.scenarios.revalidation import disagreements, revalidate
from drimlab.scenarios.runner import check_expectation
from drimlab.scenarios.schema import Scenario, Step, StepKind
from drimlab.scenarios.signing import signature_problem
from drimlab.scenarios.transport import ReportLine, Transport, plain_http_reason, transport_of
from drimlab.validation.report import Report


class MonitorVerdict(StrEnum):
    VERIFIED = "VERIFIED"
    PARTIALLY_VERIFIED = "PARTIALLY_VERIFIED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class Verification:
    """The monitor's verdict and everything that led to it."""

    bundle: str
    failures: tuple[str, ...]
    missing: tuple[str, ...]
    checks: tuple[str, ...]
    manifest: Mapping[str, Any] | None = None
    signer: str | None = None
    reports: tuple[ReportLine, ...] = ()

    @property
    def verdict(self) -> MonitorVerdict:
        if self.failures:
            return MonitorVerdict.FAILED
        if self.missing:
            return MonitorVerdict.PARTIALLY_VERIFIED
        return MonitorVerdict.VERIFIED

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "bundle": self.bundle,
            "signer": self.signer,
            "failures": list(self.failures),
            "missing": list(self.missing),
            "checks": list(self.checks),
            "reports": [r.as_dict() for r in self.reports],
        }


@dataclass
class _Notes:
    failures: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    reports: list[ReportLine] = field(default_factory=list)


class _Bundle:
    """Read access to the zip's members, each hashed once."""

    def __init__(self, archive: zipfile.ZipFile, workdir: Path) -> None:
        self.archive = archive
        self.names = set(archive.namelist())
        self.workdir = workdir
        self.altered: set[str] = set()
        self._count = 0

    def read(self, name: str) -> bytes:
        return self.archive.read(name)

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.archive.open(name) as member:
            while chunk := member.read(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()

    def usable(self, name: str | None) -> bool:
        return bool(name) and name in self.names and name not in self.altered

    def extract(self, name: str) -> Path:
        """The member copied to a private file (never to a path the zip chooses)."""
        self._count += 1
        target = self.workdir / f"member-{self._count}"
        with self.archive.open(name) as member, target.open("wb") as out:
            while chunk := member.read(1024 * 1024):
                out.write(chunk)
        return target


def _check_files(bundle: _Bundle, manifest: Mapping[str, Any], notes: _Notes) -> None:
    files = manifest.get("files")
    if not isinstance(files, dict):
        notes.failures.append("the manifest lists no files")
        return
    evidence_files = {
        e.get("file"): step.get("id")
        for step in manifest.get("steps", [])
        for e in step.get("evidence", [])
    }
    good = 0
    for name, meta in files.items():
        expected = meta.get("sha256") if isinstance(meta, dict) else None
        if name not in bundle.names:
            if name in evidence_files:
                notes.missing.append(
                    f"evidence file {name} of step {evidence_files[name]} is missing"
                )
            else:
                notes.failures.append(
                    f"{name} is listed in the manifest but missing from the bundle"
                )
            bundle.altered.add(name)
            continue
        actual = bundle.sha256(name)
        if actual != expected:
            notes.failures.append(
                f"{name}: SHA-256 {actual[:16]}… differs from the manifest's "
                f"{str(expected)[:16]}… (the file was altered)"
            )
            bundle.altered.add(name)
            continue
        good += 1
    for name in sorted(bundle.names - set(files) - set(META_FILES)):
        if not name.endswith("/"):
            notes.failures.append(f"{name} is in the bundle but not listed in the manifest")
    notes.checks.append(f"{good} of {len(files)} listed files match their SHA-256")


def _exchange(bundle: _Bundle, data: Mapping[str, Any]) -> Exchange:
    bodies: dict[str, Path | None] = {}
    for side in ("request", "response"):
        name = data.get(f"{side}_body")
        bodies[side] = bundle.extract(name) if name and bundle.usable(name) else None
    whole = data.get("exchange")
    if isinstance(whole, Mapping) and whole:
        # bodies in a bundle are the stored ones, byte for byte as captured
        return Exchange.from_dict(
            whole,
            request_body=bodies["request"],
            response_body=bodies["response"],
        )
    return Exchange(  # a bundle made before the whole Exchange was kept
        method=data.get("method") or None,
        target=data.get("target") or None,
        request_headers=tuple((str(k), str(v)) for k, v in data.get("request_headers", [])),
        request_body=bodies["request"],
        status=data.get("status"),
        response_headers=tuple((str(k), str(v)) for k, v in data.get("response_headers", [])),
        response_body=bodies["response"],
        timings=dict(data.get("timings") or {}),
        origin="server" if data.get("origin") == "server" else "client",
        label=str(data.get("note", "")),
    )


def _study_of(exchange: Exchange | None, report: Report) -> str | None:
    request = report.facts.get("request")
    if isinstance(request, dict) and request.get("study"):
        return str(request["study"])
    if exchange is not None and exchange.target:
        try:
            return parse_target(exchange.target).study
        except PathError:
            return None
    return None


class _Checker:
    def __init__(
        self, bundle: _Bundle, manifest: Mapping[str, Any], scenario: Scenario, notes: _Notes
    ) -> None:
        self.bundle, self.manifest, self.scenario, self.notes = bundle, manifest, scenario, notes
        exam = manifest.get("exam", {})
        self.study = str(exam.get("study_instance_uid") or "")
        self.kos_uid = str(exam.get("kos_sop_instance_uid") or "")
        self.kos: Kos | None = None
        kos_file = exam.get("kos_file")
        if kos_file and bundle.usable(kos_file):
            try:
                self.kos = read_kos(bundle.extract(kos_file))
            except DrimlabError as exc:
                notes.failures.append(f"{kos_file}: the exam's KOS cannot be read: {exc}")

    def run(self) -> None:
        run = self.manifest.get("run", {})
        if run.get("status") == "running":
            self.notes.missing.append("the run was not finished when it was exported")
        states = {s.get("id"): s for s in self.manifest.get("steps", [])}
        for step in self.scenario.steps:
            state = states.get(step.id)
            if state is None:
                self.notes.failures.append(
                    f"step {step.id} of {self.scenario.id} is not in the manifest"
                )
                continue
            self._step(step, state)

    def _step(self, step: Step, state: Mapping[str, Any]) -> None:
        status = state.get("status")
        if status == "failed":
            self.notes.failures.append(
                f"step {step.id} failed during the run: {state.get('detail')}"
            )
        elif status in ("waiting", "skipped") and not step.optional:
            why = f" ({state['detail']})" if state.get("detail") else ""
            self.notes.missing.append(
                f"step {step.id} was {'not run' if status == 'waiting' else 'skipped'}{why}"
            )
        if step.kind is StepKind.PREUVE:
            self._preuve(step, state)
        elif step.kind is StepKind.VALIDATION and status == "done":
            self._validation(step, state)

    def _preuve(self, step: Step, state: Mapping[str, Any]) -> None:
        evidence = state.get("evidence", [])
        given = {e.get("name") for e in evidence if self.bundle.usable(e.get("file"))}
        # an altered file is a failure (_check_files): it is there, so it is not also missing
        altered = self.bundle.altered & self.bundle.names
        reported = {e.get("name") for e in evidence if e.get("file") in altered}
        for name in step.evidence:
            if name in given:
                self.notes.checks.append(f"step {step.id}: evidence '{name}' present")
            elif state.get("status") == "done" and name not in reported:
                self.notes.missing.append(f"step {step.id}: evidence '{name}' is missing")

    def _load(self, name: str | None) -> Any:
        if not name or not self.bundle.usable(name):
            return None
        try:
            return json.loads(self.bundle.read(name))
        except (ValueError, UnicodeDecodeError):
            self.notes.failures.append(f"{name} is not valid JSON")
            return None

    def _validation(self, step: Step, state: Mapping[str, Any]) -> None:
        exchanges = {e.get("id"): e.get("file") for e in state.get("exchanges", [])}
        observations = []
        reports = state.get("reports", [])
        if not reports:
            self.notes.failures.append(f"step {step.id}: no report was kept")
        for entry in reports:
            data = self._load(entry.get("file"))
            if data is None:
                self.notes.failures.append(
                    f"step {step.id}: report {entry.get('id')} cannot be checked"
                )
                continue
            try:
                report = Report.from_dict(data)
            except (KeyError, TypeError, ValueError) as exc:
                self.notes.failures.append(f"{entry.get('file')}: not a drimlab report ({exc})")
                continue
            exchange_data = self._load(exchanges.get(entry.get("exchange")))
            exchange = _exchange(self.bundle, exchange_data) if exchange_data else None
            if entry.get("exchange") and exchange is None:
                self.notes.failures.append(
                    f"step {step.id}: exchange {entry.get('exchange')} cannot be checked"
                )
            self._about_exam(step, entry, report, exchange)
            if exchange_data:
                self._parts(step, report, exchange_data.get("parts") or [])
            if exchange is not None:
                self._compare(step, entry, report, exchange, state)
            self._transport(step, str(entry.get("id") or ""), report, exchange)
            observations.append(
                Observation(
                    entry.get("exchange"),
                    entry.get("id"),
                    exchange.status if exchange is not None else None,
                    report.verdict.value,
                    report.subject,
                )
            )
        problems = check_expectation(step.expect, observations) if observations else []
        for problem in problems:
            self.notes.failures.append(f"step {step.id}: {problem}")
        if observations and not problems:
            self.notes.checks.append(
                f"step {step.id}: {len(observations)} report(s) meet the expectation"
            )

    def _transport(
        self, step: Step, report_id: str, report: Report, exchange: Exchange | None
    ) -> None:
        mode = transport_of(exchange)
        version = exchange.tls.version if exchange is not None and exchange.tls else None
        self.notes.reports.append(
            ReportLine(step.id, report_id, report.subject, report.verdict.value, mode, version)
        )
        if mode is Transport.PLAIN_HTTP:
            self.notes.missing.append(plain_http_reason(step.id, report_id))

    def _parts(self, step: Step, report: Report, parts: list[Any]) -> None:
        """Each kept part must be the bytes the report describes (same SHA-256, same index)."""
        by_index = {p.index: p.sha256 for p in report.parts}
        kept = [p for p in parts if isinstance(p, dict) and p.get("file")]
        for part in kept:
            name = str(part["file"])
            if not self.bundle.usable(name):
                continue
            actual = self.bundle.sha256(name)
            index = int(part.get("index", -1))
            if actual != part.get("sha256") or by_index.get(index) != actual:
                self.notes.failures.append(
                    f"step {step.id}: {name} is not the part {part.get('index')} its report "
                    "describes (SHA-256 differs)"
                )
                return
        if kept:
            self.notes.checks.append(
                f"step {step.id}: {len(kept)} kept part(s) match their report's SHA-256"
            )

    def _about_exam(
        self, step: Step, entry: Mapping[str, Any], report: Report, exchange: Exchange | None
    ) -> None:
        rid = entry.get("id")
        study = _study_of(exchange, report)
        if study is not None and study != self.study:
            self.notes.failures.append(
                f"step {step.id}: report {rid} is about study {study}, "
                f"not the scenario's exam {self.study}"
            )
        if exchange is None or not exchange.has_request:
            return
        sent = (exchange.request_header(KOS_HEADER) or "").strip()
        if step.params.get("kos") == "unknown":
            if sent == self.kos_uid:
                self.notes.failures.append(
                    f"step {step.id}: report {rid} used the exam's own KOS, not an unknown one"
                )
        elif self.kos_uid and sent and sent != self.kos_uid:
            self.notes.failures.append(
                f"step {step.id}: report {rid} is about KOS {sent}, "
                f"not the scenario's KOS {self.kos_uid}"
            )
        elif study == self.study:
            self.notes.checks.append(
                f"step {step.id}: report {str(rid)[:8]} is about the scenario's exam"
            )

    def _compare(
        self,
        step: Step,
        entry: Mapping[str, Any],
        stored: Report,
        exchange: Exchange,
        state: Mapping[str, Any],
    ) -> None:
        facts = state.get("facts", {})
        sent = (exchange.request_header(KOS_HEADER) or "").strip()
        if exchange.origin == "server":
            kos = self.kos if self.kos is not None and sent == self.kos.sop_instance_uid else None
        else:
            kos = self.kos if facts.get("validated_with_kos") else None
        try:
            fresh = revalidate(exchange, stored, kos)
        except (DrimlabError, ValueError) as exc:
            self.notes.failures.append(
                f"step {step.id}: exchange {entry.get('exchange')} cannot be re-validated: {exc}"
            )
            return
        short = str(entry.get("exchange") or entry.get("id"))[:8]
        if fresh is None:
            self.notes.checks.append(
                f"step {step.id}: report {short}: no HTTP exchange to re-validate"
            )
            return
        differences = disagreements(stored, fresh)
        if differences:
            self.notes.failures.append(
                f"step {step.id}: report {entry.get('id')} disagrees with a re-validation of its "
                f"exchange: {'; '.join(differences)}"
            )
        else:
            self.notes.checks.append(
                f"step {step.id}: exchange {short} re-validated: same findings"
            )


def _manifest_time(manifest: Mapping[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(manifest.get("created_at")))
    except ValueError:
        return datetime.now(UTC)


def verify_bundle(path: Path, anchors: Sequence[x509.Certificate]) -> Verification:
    """Check an evidence bundle; InputError only when it is not a bundle at all."""
    notes = _Notes()
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a zip evidence bundle ({exc})") from None
    with archive, tempfile.TemporaryDirectory(prefix="drimlab-verify-") as work:
        bundle = _Bundle(archive, Path(work))
        if "manifest.json" not in bundle.names:
            return Verification(str(path), ("the bundle has no manifest.json",), (), ())
        raw = bundle.read("manifest.json")
        try:
            manifest = json.loads(raw)
            if not isinstance(manifest, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            return Verification(str(path), (f"manifest.json is not valid JSON ({exc})",), (), ())
        signer = None
        if "manifest.sig" not in bundle.names or "signer.pem" not in bundle.names:
            notes.failures.append("the manifest is not signed (manifest.sig or signer.pem missing)")
        else:
            try:
                signature = base64.b64decode(bundle.read("manifest.sig"), validate=False)
            except (binascii.Error, ValueError):
                signature = b""
            chain = bundle.read("signer.pem")
            problem = signature_problem(raw, signature, chain, anchors, _manifest_time(manifest))
            if problem:
                notes.failures.append(problem)
            else:
                signer = x509.load_pem_x509_certificates(chain)[0].subject.rfc4514_string()
                notes.checks.append(f"manifest signature verifies; signer {signer} is trusted")
        _check_files(bundle, manifest, notes)
        scenario_file = manifest.get("scenario", {}).get("file", "scenario.yaml")
        if bundle.usable(scenario_file):
            try:
                scenario = load_text(
                    bundle.read(scenario_file).decode("utf-8"), origin=scenario_file
                )
            except (InputError, UnicodeDecodeError) as exc:
                notes.failures.append(f"{scenario_file}: {exc}")
            else:
                _Checker(bundle, manifest, scenario, notes).run()
        else:
            notes.failures.append("the scenario definition cannot be checked")
    return Verification(
        str(path),
        tuple(notes.failures),
        tuple(notes.missing),
        tuple(notes.checks),
        manifest,
        signer,
        tuple(notes.reports),
    )
