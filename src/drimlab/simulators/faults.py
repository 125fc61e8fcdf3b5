"""Fault modes of the server simulator: conformance faults a consumer under test must detect.

Each fault changes a correct retrieve response in one documented way, and names the
validator rule that detects it (so a vendor can check their consumer reacts, and the bench
can prove the fault is real). A fault applies to every retrieve, or only to requests whose
path contains a given text (`NAME:MATCH`, e.g. a series UID).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import pydicom
from pydicom.uid import ImplicitVRLittleEndian, JPEGLSLossless

from drimlab.errors import InputError


class Fault(StrEnum):
    """A way the simulated source departs from the standard on purpose."""

    WRONG_TRANSFER_SYNTAX = "wrong-transfer-syntax"
    PART_HEADER_MISMATCH = "part-header-mismatch"
    TRUNCATED = "truncated"
    FOREIGN_INSTANCE = "foreign-instance"
    DUPLICATE_INSTANCE = "duplicate-instance"
    MISSING_INSTANCE = "missing-instance"
    IMPLICIT_VR = "implicit-vr"
    NO_TYPE_PARAMETER = "no-type-parameter"
    SLOW = "slow"
    BUSY = "busy"
    CUT = "cut"
    SHORT_BODY = "short-body"


@dataclass(frozen=True)
class FaultDoc:
    """What a fault does and which rule of the validator detects it.

    `detected_by` names rule codes; for a fault that is not a non-conformance (slow, busy) it
    says in words what the exchange record shows instead.
    """

    summary: str
    detected_by: tuple[str, ...]


FAULT_DOCS: dict[Fault, FaultDoc] = {
    Fault.WRONG_TRANSFER_SYNTAX: FaultDoc(
        "parts are sent in a stored transfer syntax the Accept header did not allow",
        ("WADO-RS-033",),
    ),
    Fault.PART_HEADER_MISMATCH: FaultDoc(
        "each part's Content-Type names a transfer syntax other than its File Meta (0002,0010)",
        ("WADO-RS-032",),
    ),
    Fault.TRUNCATED: FaultDoc(
        "the body ends without the close delimiter `--boundary--`", ("WADO-RS-021",)
    ),
    Fault.FOREIGN_INSTANCE: FaultDoc(
        "an instance of another series (or study) is added to the response",
        ("WADO-RS-035",),
    ),
    Fault.DUPLICATE_INSTANCE: FaultDoc("the first instance is sent twice", ("WADO-RS-024",)),
    Fault.MISSING_INSTANCE: FaultDoc(
        "the last instance is left out (status still 200)", ("DRIM-022",)
    ),
    Fault.IMPLICIT_VR: FaultDoc(
        "parts are sent in Implicit VR Little Endian, which web services shall not use",
        ("WADO-RS-034",),
    ),
    Fault.NO_TYPE_PARAMETER: FaultDoc(
        "the response Content-Type is `multipart/related` without its `type` parameter",
        ("WADO-RS-005",),
    ),
    Fault.SLOW: FaultDoc(
        "the body is throttled (default 64 KiB/s): the consumer's timeouts are tested",
        ("timing: time to first byte and throughput in the exchange",),
    ),
    Fault.BUSY: FaultDoc(
        "the source answers 503 Service Unavailable with Retry-After",
        ("status: 503 is a legitimate answer (PS3.18 §8.4); the consumer's retry is tested",),
    ),
    Fault.CUT: FaultDoc(
        "the connection is closed in the middle of the first part", ("WADO-RS-010", "WADO-RS-021")
    ),
    Fault.SHORT_BODY: FaultDoc(
        "Content-Length announces the whole body, the connection closes in the first part",
        ("WADO-RS-009",),
    ),
}


@dataclass(frozen=True)
class FaultRule:
    """A fault and the requests it applies to (all when `match` is empty)."""

    fault: Fault
    match: str = ""

    def applies_to(self, path: str) -> bool:
        return not self.match or self.match in path

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        name, _, match = text.partition(":")
        try:
            fault = Fault(name.strip())
        except ValueError:
            known = ", ".join(f.value for f in Fault)
            raise InputError(f"unknown fault {name!r} (known: {known})") from None
        return cls(fault, match.strip())


@dataclass(frozen=True)
class PartPlan:
    """One part to send: its headers and where its bytes come from."""

    headers: tuple[tuple[str, str], ...]
    size: int
    sop_instance_uid: str
    transfer_syntax_uid: str
    sha256: str
    path: Path | None = None
    data: bytes | None = None
    offset: int = 0  # where the part's bytes start in `path` (a frame inside an instance)


@dataclass(frozen=True)
class ResponsePlan:
    """Everything the simulator will send for one retrieve, before faults and after."""

    status: int
    content_type: str
    boundary: str
    parts: tuple[PartPlan, ...]
    headers: tuple[tuple[str, str], ...] = ()
    close_delimiter: bool = True
    cut_after_bytes: int | None = None
    keep_content_length: bool = False  # with a cut: announce the full length anyway
    rate_bytes_per_second: int | None = None
    faults: tuple[str, ...] = field(default=())


def implicit_vr_bytes(path: Path) -> bytes:
    """The instance at `path` re-written in Implicit VR Little Endian (only for the fault)."""
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, implicit_vr=True, little_endian=True, enforce_file_format=True)
    return buffer.getvalue()


def _with_ts_param(headers: Sequence[tuple[str, str]], uid: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, f"application/dicom; transfer-syntax={uid}")
        if name.lower() == "content-type"
        else (name, value)
        for name, value in headers
    )


def apply_fault(
    plan: ResponsePlan,
    fault: Fault,
    *,
    foreign: PartPlan | None = None,
    unaccepted: tuple[PartPlan, ...] | None = None,
    slow_rate: int = 64 * 1024,
) -> ResponsePlan:
    """The response plan with one fault applied (a fault that cannot apply leaves it as is)."""
    plan = replace(plan, faults=(*plan.faults, fault.value))
    parts = plan.parts
    if fault is Fault.WRONG_TRANSFER_SYNTAX and unaccepted:
        return replace(plan, parts=unaccepted)
    if fault is Fault.PART_HEADER_MISMATCH:
        lie = JPEGLSLossless
        return replace(
            plan,
            parts=tuple(
                replace(
                    p,
                    headers=_with_ts_param(
                        p.headers, lie if p.transfer_syntax_uid != lie else ImplicitVRLittleEndian
                    ),
                )
                for p in parts
            ),
        )
    if fault is Fault.TRUNCATED:
        return replace(plan, close_delimiter=False)
    if fault is Fault.FOREIGN_INSTANCE and foreign is not None:
        return replace(plan, parts=(*parts, foreign))
    if fault is Fault.DUPLICATE_INSTANCE and parts:
        return replace(plan, parts=(parts[0], *parts))
    if fault is Fault.MISSING_INSTANCE and len(parts) > 1:
        return replace(plan, parts=parts[:-1])
    if fault is Fault.IMPLICIT_VR:
        return replace(plan, parts=tuple(_as_implicit(p) for p in parts))
    if fault is Fault.NO_TYPE_PARAMETER:
        return replace(plan, content_type=f"multipart/related; boundary={plan.boundary}")
    if fault is Fault.SLOW:
        return replace(plan, rate_bytes_per_second=slow_rate)
    if fault is Fault.BUSY:
        return replace(plan, status=503, parts=(), headers=(*plan.headers, ("Retry-After", "5")))
    if fault is Fault.CUT and parts:
        return replace(plan, cut_after_bytes=max(1, parts[0].size // 2))
    if fault is Fault.SHORT_BODY and parts:
        return replace(plan, cut_after_bytes=max(1, parts[0].size // 2), keep_content_length=True)
    return plan


def _as_implicit(part: PartPlan) -> PartPlan:
    if part.path is None:
        return part
    data = implicit_vr_bytes(part.path)
    return replace(
        part,
        data=data,
        path=None,
        size=len(data),
        sha256="",
        transfer_syntax_uid=ImplicitVRLittleEndian,
        headers=_with_ts_param(part.headers, ImplicitVRLittleEndian),
    )
