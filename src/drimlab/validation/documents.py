"""Validate DRIM-M documents: a KOS, its XDS metadata, one exam across documents, XDM archives.

Each function gathers the document's subjects and hands them to `assess` for one Report;
unusable input raises InputError, a non-conformance is a Finding. The IOD checker (dciodvfy)
is injected by the caller (`drimlab.dciodvfy.checker()`); without one, KOS-001/002 are not
checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from drimlab.documents.cda import CdaHeader, read_cda
from drimlab.documents.cross import CrossSubject, ImageFacts, read_image, xds_facts
from drimlab.documents.hl7v2 import read_hl7
from drimlab.documents.kos import Kos, read_kos
from drimlab.documents.part10 import quiet_values, read_bytes
from drimlab.documents.xdm import XdmArchive, read_xdm
from drimlab.documents.xds import Submission, parse_submission
from drimlab.errors import InputError
from drimlab.exchange import PartRecord
from drimlab.validation.assess import Selection, assess
from drimlab.validation.profiles import Profile
from drimlab.validation.report import Report
from drimlab.validation.rules import Kind
from drimlab.validation.subjects import CheckerVerdict, IodChecker, KosSubject

Chosen = str | Profile | Selection


def validate_kos_document(
    kos: Kos,
    profile: Chosen = "drim-m",
    *,
    checker: CheckerVerdict | None = None,
    parts: Sequence[PartRecord] = (),
) -> Report:
    """Run the KOS rules over a read KOS and the IOD checker's verdict on it (if it ran)."""
    facts = {
        "kos": {
            "sop_instance_uid": kos.sop_instance_uid,
            "study_instance_uid": kos.study_instance_uid,
            "dciodvfy": checker.iod if checker else None,
        }
    }
    with quiet_values():
        return assess(
            kos.label,
            [(Kind.KOS, [KosSubject(kos, checker)])],
            profile,
            kind="kos",
            facts=facts,
            parts=parts,
        )


def validate_kos(
    path: Path, profile: Chosen = "drim-m", *, checker: IodChecker | None = None
) -> Report:
    """Validate a KOS Part 10 file: the KOS rules, with the IOD checker's verdict if given."""
    data = read_bytes(path)
    kos = read_kos(data, label=str(path), strict=False)
    verdict = checker.check(data) if checker is not None else None
    return validate_kos_document(kos, profile, checker=verdict, parts=(_kos_record(0, kos, data),))


def _kos_record(index: int, kos: Kos, data: bytes) -> PartRecord:
    """The KOS file as evidence lists it: size, SHA-256 and identifying UIDs."""
    ds = kos.dataset
    meta = getattr(ds, "file_meta", None)
    return PartRecord(
        index=index,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/dicom",
        sop_class_uid=str(ds.get("SOPClassUID", "")) or None,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")) or None,
        study_instance_uid=str(ds.get("StudyInstanceUID", "")) or None,
        series_instance_uid=str(ds.get("SeriesInstanceUID", "")) or None,
        transfer_syntax_uid=str(meta.get("TransferSyntaxUID", "")) or None if meta else None,
    )


def validate_submission(submission: Submission, profile: Chosen = "drim-m") -> Report:
    """Run the XDS rules over parsed metadata."""
    facts = {
        "xds": {
            "entries": [e.id for e in submission.entries],
            "kos_entries": [e.id for e in submission.kos_entries],
            "provide_and_register": submission.documents is not None,
        }
    }
    return assess(submission.label, [(Kind.XDS, [submission])], profile, kind="xds", facts=facts)


def validate_xds(path: Path, profile: Chosen = "drim-m") -> Report:
    """Validate a ProvideAndRegisterDocumentSet-b message (SOAP or bare) or XDM metadata."""
    submission = parse_submission(read_bytes(path), str(path))
    return validate_submission(submission, profile)


def cross_subject(
    kos: Path | bytes,
    *,
    xds: Path | None = None,
    cda: Path | None = None,
    images: Sequence[Path] = (),
    kos_label: str | None = None,
    hl7: Path | None = None,
) -> CrossSubject:
    """Gather one exam's facts from the KOS and the other documents given."""
    data = kos if isinstance(kos, bytes) else read_bytes(kos)
    label = kos_label or (str(kos) if isinstance(kos, Path) else "<kos>")
    submission = parse_submission(read_bytes(xds), str(xds)) if xds is not None else None
    header: CdaHeader | None = read_cda(read_bytes(cda), str(cda)) if cda is not None else None
    found: list[ImageFacts] = [read_image(read_bytes(p), str(p)) for p in images]
    return CrossSubject(
        kos=read_kos(data, label=label),
        xds=xds_facts(submission) if submission is not None else None,
        cda=header,
        images=tuple(found),
        hl7=read_hl7(read_bytes(hl7), str(hl7)) if hl7 is not None else None,
    )


def validate_cross_subject(subject: CrossSubject, profile: Chosen = "drim-m") -> Report:
    """Run the cross-validation rules over gathered facts."""
    with quiet_values():
        return assess(
            subject.kos.label,
            [(Kind.CROSS, [subject])],
            profile,
            kind="cross",
            facts={"cross": subject.summary()},
        )


def validate_cross(
    kos: Path,
    *,
    xds: Path | None = None,
    cda: Path | None = None,
    images: Sequence[Path] = (),
    profile: Chosen = "drim-m",
    hl7: Path | None = None,
) -> Report:
    """Check that the KOS, the XDS metadata, the CDA, the HL7 v2 report message and the
    images tell the same exam."""
    subject = cross_subject(kos, xds=xds, cda=cda, images=images, hl7=hl7)
    return validate_cross_subject(subject, profile)


def validate_archive(
    archive: XdmArchive, profile: Chosen = "drim-m", *, checker: IodChecker | None = None
) -> Report:
    """Run the XDM rules, then the XDS, KOS and cross rules over what the archive holds."""
    documents: list[tuple[str, Kos, CheckerVerdict | None]] = []
    for member in archive.kos_members:
        try:
            data = archive.read(member)
            verdict = checker.check(data) if checker is not None else None
            documents.append((member, read_kos(data, label=member), verdict))
        except InputError as exc:
            archive.unreadable[member] = str(exc)
    subjects: list[tuple[Kind, list[object]] | tuple[Kind, list[object], str]] = []
    subjects.append((Kind.XDM, list[object]([archive])))
    for subset in archive.subsets:
        if subset.submission is not None and subset.metadata_name is not None:
            subjects.append((Kind.XDS, [subset.submission], subset.metadata_name))
    for member, kos, verdict in documents:
        cross = CrossSubject(
            kos=kos, xds=archive.xds_facts_for(member), cda=None, images=tuple(archive.images)
        )
        subjects.append((Kind.KOS, [KosSubject(kos, verdict)], member))
        subjects.append((Kind.CROSS, [cross], member))
    uids = {member: kos for member, kos, _checker in documents}
    parts = []
    for index, listed in enumerate(archive.listed):
        known = uids.get(listed.member or "")
        parts.append(
            PartRecord(
                index=index,
                size=listed.size,
                sha256=listed.sha256,
                content_type=listed.content_type,
                sop_instance_uid=known.sop_instance_uid if known else None,
                study_instance_uid=known.study_instance_uid if known else None,
            )
        )
    with quiet_values():
        return assess(
            archive.label,
            subjects,
            profile,
            kind="xdm",
            facts={"xdm": archive.summary()},
            parts=parts,
        )


def validate_xdm(
    path: Path, profile: Chosen = "drim-m", *, checker: IodChecker | None = None
) -> Report:
    """Validate an IHE XDM export archive (ZIP)."""
    archive = read_xdm(path)
    try:
        return validate_archive(archive, profile, checker=checker)
    finally:
        archive.close()
