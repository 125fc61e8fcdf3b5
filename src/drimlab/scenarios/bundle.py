"""Exporting a run as an evidence bundle: a zip with a signed manifest of every file.

Layout of the zip:

    manifest.json        scenario, run, exam, SUT identity, steps, and {path: sha256} of
                         every other file below
    manifest.sig         base64 signature of manifest.json's exact bytes
    signer.pem           the signer's certificate chain
    scenario.yaml        the scenario definition the run followed
    kos/<uid>.dcm        the exam's KOS, when drimlab knows it
    exchanges/<id>.json  every exchange of the run (+ .request.bin / .response.bin bodies)
    parts/<id>/<n>.dcm   the parts of a response the client simulator kept, by part index
    reports/<id>.json    every report (+ .html, .gazelle.json, .gazelle.xml renderings)
    evidence/<step>/...  files handed in by the user or produced by drimlab
    summary.html         the run at a glance

The zip is written next to its destination and renamed into place: never half-written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drimlab.errors import InputError
from drimlab.scenarios.actions import parts_dir
from drimlab.scenarios.loader import definition_text, get_scenario
from drimlab.scenarios.runner import resolve_exam
from drimlab.scenarios.runs import RunState, load_run
from drimlab.scenarios.schema import Scenario
from drimlab.scenarios.signing import Signer
from drimlab.scenarios.summary import render_run_summary
from drimlab.store import Store
from drimlab.store.queries import StoredExchange, report_row, stored_exchange
from drimlab.store.records import load_report
from drimlab.validation.render import render
from drimlab.version import __version__

FORMAT = "drimlab-evidence/1"
META_FILES = ("manifest.json", "manifest.sig", "signer.pem")
RENDERINGS = (("html", "html"), ("gazelle-json", "gazelle.json"), ("gazelle-xml", "gazelle.xml"))


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    files: int
    manifest_sha256: str


class _Zip:
    """Collects members and their SHA-256."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.files: dict[str, dict[str, Any]] = {}

    def add_bytes(self, name: str, data: bytes) -> str:
        self.archive.writestr(name, data)
        self.files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        return name

    def add_file(self, name: str, source: Path) -> str:
        digest = hashlib.sha256()
        with source.open("rb") as reader, self.archive.open(name, "w", force_zip64=True) as out:
            while chunk := reader.read(1024 * 1024):
                digest.update(chunk)
                out.write(chunk)
        self.files[name] = {"sha256": digest.hexdigest(), "size": source.stat().st_size}
        return name


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _kept_parts(folder: Path) -> dict[str, Path]:
    """The part files the client simulator kept in a step, by file name."""
    return {p.name: p for p in folder.rglob("*.dcm")} if folder.is_dir() else {}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _add_parts(row: StoredExchange, kept: dict[str, Path], out: _Zip) -> list[dict[str, Any]]:
    """The exchange's part manifest, each part the simulator kept added to the zip."""
    parts = []
    for entry in row.parts:
        item = dict(entry)
        found = kept.get(f"{item.get('sop_instance_uid')}.dcm")
        if found is not None and _file_sha256(found) == item.get("sha256"):
            item["file"] = out.add_file(f"parts/{row.id}/{int(item['index']):05d}.dcm", found)
        parts.append(item)
    return parts


def _exchange_json(
    store: Store, row: StoredExchange, out: _Zip, kept: dict[str, Path]
) -> dict[str, Any]:
    home = store.settings.home
    data: dict[str, Any] = {
        "id": row.id,
        "created_at": _iso(row.created_at),
        "origin": row.origin,
        "method": row.method,
        "target": row.target,
        "request_headers": row.request_headers,
        "status": row.status,
        "response_headers": row.response_headers,
        "parts": _add_parts(row, kept, out),
        "peer": row.peer,
        "timings": row.timings,
        "study_instance_uid": row.study_instance_uid,
        "kos_sop_instance_uid": row.kos_sop_instance_uid,
        "note": row.note,
        "request_body": None,
        "response_body": None,
        # the whole Exchange (`Exchange.as_dict`): what the monitor re-validates
        "exchange": row.facts or None,
    }
    for side, relative in (
        ("request", row.request_body_path),
        ("response", row.response_body_path),
    ):
        if relative:
            body = home / relative
            if not body.is_file():
                raise InputError(f"exchange {row.id}: its {side} body {body} is missing")
            data[f"{side}_body"] = out.add_file(f"exchanges/{row.id}.{side}.bin", body)
    return data


def _add_report(store: Store, report_id: str, out: _Zip) -> dict[str, Any]:
    row = report_row(store, report_id)
    if row is None:
        raise InputError(f"report {report_id} of the run is not in the store")
    exchange_id, kind = row.exchange_id, row.kind
    report = load_report(store, report_id)
    name = out.add_bytes(f"reports/{report_id}.json", render(report, "json").encode())
    for fmt, suffix in RENDERINGS:
        out.add_bytes(f"reports/{report_id}.{suffix}", render(report, fmt).encode())
    return {
        "id": report_id,
        "file": name,
        "exchange": exchange_id,
        "kind": kind,
        "verdict": report.verdict.value,
    }


def _sut(run: RunState) -> dict[str, Any]:
    """The identity of the system under test, from the certificate it presented."""
    for step in run.steps:
        peer = step.facts.get("peer")
        if isinstance(peer, dict) and peer:
            keys = ("subject", "issuer", "serial", "sha256", "not_before", "not_after", "idnst")
            return {k: peer[k] for k in keys if k in peer} or dict(peer)
    return {}


def build_manifest(store: Store, scenario: Scenario, run: RunState, out: _Zip) -> dict[str, Any]:
    """Add every file of the run to the zip and return the manifest describing them."""
    out.add_bytes("scenario.yaml", definition_text(scenario).encode("utf-8"))
    exam, dataset = resolve_exam(store, scenario, {k: str(v) for k, v in run.inputs.items()})
    kos_file = None
    if exam.kos_path is not None and exam.kos_path.is_file():
        kos_file = out.add_file(f"kos/{exam.kos_uid or 'exam'}.dcm", exam.kos_path)
    steps = []
    home = store.settings.home
    for state in run.steps:
        kept = _kept_parts(parts_dir(home / "runs" / run.id, state.step_id))
        exchanges = []
        for exchange_id in state.exchange_ids:
            row = stored_exchange(store, exchange_id)
            if row is None:
                raise InputError(f"exchange {exchange_id} of the run is not in the store")
            data = _exchange_json(store, row, out, kept)
            name = out.add_bytes(
                f"exchanges/{exchange_id}.json",
                json.dumps(data, indent=2, ensure_ascii=False, default=str).encode(),
            )
            exchanges.append({"id": exchange_id, "file": name})
        reports = [_add_report(store, r, out) for r in state.report_ids]
        evidence = []
        for item in state.evidence:
            source = home / item.path
            if not source.is_file():
                raise InputError(f"evidence file {source} of step {state.step_id} is missing")
            name = out.add_file(f"evidence/{state.step_id}/{Path(item.path).name}", source)
            if out.files[name]["sha256"] != item.sha256:
                raise InputError(f"evidence file {source} changed since it was handed in")
            evidence.append({**item.as_dict(), "file": name})
        steps.append(
            {
                "position": state.position,
                "id": state.step_id,
                "kind": state.kind,
                "status": state.status.value,
                "detail": state.detail,
                "started_at": _iso(state.started_at),
                "finished_at": _iso(state.finished_at),
                "exchanges": exchanges,
                "reports": reports,
                "evidence": evidence,
                "facts": dict(state.facts),
            }
        )
    return {
        "format": FORMAT,
        "tool": "drimlab",
        "tool_version": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "scenario": {
            "id": scenario.id,
            "version": scenario.version,
            "title": {"fr": scenario.title.fr, "en": scenario.title.en},
            "role": scenario.role.value,
            "sha256": scenario.sha256,
            "file": "scenario.yaml",
        },
        "run": {
            "id": run.id,
            "mode": run.mode,
            "status": run.status.value,
            "language": run.language,
            "inputs": dict(run.inputs),
            "started_at": _iso(run.created_at),
            "finished_at": _iso(run.finished_at),
        },
        "exam": {
            "dataset": dataset,
            "name": exam.exam_name,
            "study_instance_uid": exam.study_uid,
            "kos_sop_instance_uid": exam.kos_uid,
            "kos_file": kos_file,
        },
        "sut": _sut(run),
        "steps": steps,
    }


def export_bundle(store: Store, run_id: str, target: Path, signer: Signer) -> ExportSummary:
    """Write the run's evidence bundle to `target` (a .zip), signed by `signer`."""
    run = load_run(store, run_id)
    scenario = get_scenario(run.scenario_id, store.settings)
    if run.scenario_sha256 and run.scenario_sha256 != scenario.sha256:
        raise InputError(
            f"the definition of {scenario.id} changed since run {run.id}: it cannot be exported"
        )
    if target.suffix.lower() != ".zip":
        raise InputError(f"{target}: the bundle must be a .zip file")
    target = target.expanduser().resolve()
    if not target.parent.is_dir():
        raise InputError(f"{target.parent} is not a directory")
    handle, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    os.close(handle)
    try:
        with zipfile.ZipFile(temp_name, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            out = _Zip(archive)
            manifest = build_manifest(store, scenario, run, out)
            out.add_bytes("summary.html", render_run_summary(manifest).encode("utf-8"))
            manifest["files"] = dict(sorted(out.files.items()))
            data = json.dumps(manifest, indent=2, ensure_ascii=False, default=str).encode()
            archive.writestr("manifest.json", data)
            archive.writestr("manifest.sig", base64.b64encode(signer.sign(data)) + b"\n")
            archive.writestr("signer.pem", signer.chain_pem())
        Path(temp_name).replace(target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return ExportSummary(target, len(out.files) + len(META_FILES), hashlib.sha256(data).hexdigest())
