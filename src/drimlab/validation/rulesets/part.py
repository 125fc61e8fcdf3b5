"""Part rules: each body part's Content-Type and transfer syntax (WADO-RS-03x, PS3.18 §8.7)
and its content as a DICOM Part 10 file (DICOM-NNN, PS3.10 §7).

The DICOM checks read only the header parse the engine made of each part's first bytes;
`dciodvfy` findings come from the independent IOD checker when it was asked for.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.dicomweb import transfer_syntax
from drimlab.dicomweb.media import accepted_transfer_syntaxes
from drimlab.dicomweb.uids import uid_problem
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.identity import expected_identity
from drimlab.validation.rulesets.response import type_covers
from drimlab.validation.subjects import DicomFacts, NotApplicable, PartSubject

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
REQUIRED_META = (
    "FileMetaInformationGroupLength",
    "FileMetaInformationVersion",
    "MediaStorageSOPClassUID",
    "MediaStorageSOPInstanceUID",
    "TransferSyntaxUID",
    "ImplementationClassUID",
)
PART10 = "(128-byte preamble) DICM (0002,0000)...(0002,0010)=1.2.840.10008.1.2.1 ... dataset"


def _part_media(subject: PartSubject) -> str | None:
    media = subject.part.content_type
    return media.essence if media is not None else None


def _dicom_part(subject: PartSubject) -> None:
    essence = _part_media(subject)
    if essence is not None and essence != "application/dicom":
        raise NotApplicable


def _at(subject: PartSubject, header: str | None = None) -> Location:
    return Location(part=subject.part.index, header=header)


@CATALOGUE.rule(
    "WADO-RS-030",
    "part-content-type-wrong",
    severity=ERROR,
    summary="Each part must have the Content-Type announced by the multipart `type`",
    what="Each part has a parseable Content-Type whose media type equals the `type` "
    "parameter of the response Content-Type (application/dicom for instances).",
    why="RFC 2387 §3.1 and PS3.18 §8.7.3: the consumer dispatches each part on its "
    "Content-Type; a missing or different one is unreadable.",
    bad="--b1\r\nContent-Type: application/octet-stream\r\n\r\n...",
    good="--b1\r\nContent-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\r\n\r\n...",
    references=("RFC 2387 §3.1", "PS3.18 §8.7.3"),
    subject="part",
)
def part_content_type_wrong(subject: PartSubject) -> Iterator[Finding]:
    rule = CATALOGUE["WADO-RS-030"]
    text = subject.part.content_type_text
    where = _at(subject, "Content-Type")
    if text is None:
        yield rule.finding("part without Content-Type", where)
        return
    media = subject.part.content_type
    if media is None:
        yield rule.finding(f"part Content-Type {text[:80]!r} does not parse", where)
        return
    outer = subject.response.content_type
    announced = outer.param("type") if outer is not None and outer.type == "multipart" else None
    if announced is not None and not type_covers(announced, media.essence):
        yield rule.finding(
            f"part is {media.essence}, the multipart type is {announced}",
            where,
            expected=announced,
            actual=media.essence,
        )


@CATALOGUE.rule(
    "WADO-RS-031",
    "part-transfer-syntax-missing",
    severity=WARNING,
    summary="A DICOM part should name its transfer syntax in its Content-Type",
    what="Each `application/dicom` part has a `transfer-syntax=<UID>` parameter.",
    why="PS3.18 §8.7.3.5.2 lets a consumer choose a decoder before parsing; without it the "
    "consumer must read the File Meta. Orthanc omits it, so this is a warning.",
    bad="Content-Type: application/dicom",
    good="Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.4.80",
    references=("PS3.18 §8.7.3.5.2",),
    subject="part",
)
def part_transfer_syntax_missing(subject: PartSubject) -> Iterator[Finding]:
    media = subject.part.content_type
    if media is None or media.essence != "application/dicom":
        raise NotApplicable
    if media.param("transfer-syntax") is None:
        yield CATALOGUE["WADO-RS-031"].finding(
            "no transfer-syntax parameter", _at(subject, "Content-Type")
        )


@CATALOGUE.rule(
    "WADO-RS-032",
    "part-transfer-syntax-mismatch",
    severity=ERROR,
    summary="The part's transfer-syntax parameter must equal its File Meta transfer syntax",
    what="When a part names `transfer-syntax=`, the value equals the File Meta Transfer "
    "Syntax UID (0002,0010) of the Part 10 file it carries (`*` is not a valid answer).",
    why="PS3.18 §8.7.3.5.2: the File Meta wins, and a consumer that trusted the header "
    "picks the wrong decoder (typically when a server echoes `*` or the requested "
    "syntax without transcoding).",
    bad="Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.4.80\n"
    "(File Meta: 1.2.840.10008.1.2.1)",
    good="Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1\n"
    "(File Meta: 1.2.840.10008.1.2.1)",
    references=("PS3.18 §8.7.3.5.2", "PS3.10 §7.1"),
    subject="part",
)
def part_transfer_syntax_mismatch(subject: PartSubject) -> Iterator[Finding]:
    media = subject.part.content_type
    declared = media.param("transfer-syntax") if media is not None else None
    actual = subject.part.dicom.transfer_syntax_uid
    if declared is None or actual is None:
        raise NotApplicable
    if declared != actual:
        yield CATALOGUE["WADO-RS-032"].finding(
            f"part says transfer-syntax={declared}, its File Meta says {actual}",
            _at(subject, "Content-Type"),
            expected=actual,
            actual=declared,
        )


@CATALOGUE.rule(
    "WADO-RS-033",
    "transfer-syntax-not-accepted",
    severity=ERROR,
    summary="Each instance must be in a transfer syntax the request accepted",
    what="The File Meta transfer syntax of each part is one the request's Accept named for "
    "application/dicom (or any, with `transfer-syntax=*`), or Explicit VR Little Endian "
    "when a range names none.",
    why="PS3.18 §8.7.3.5 and §8.7.5: the server must return an acceptable transfer syntax "
    "or 406; the consumer's viewer may not decode anything else.",
    bad="Accept: ...; transfer-syntax=1.2.840.10008.1.2.4.80\n(part in 1.2.840.10008.1.2.4.91)",
    good="Accept: ...; transfer-syntax=1.2.840.10008.1.2.4.80\n(part in 1.2.840.10008.1.2.4.80)",
    references=("PS3.18 §8.7.3.5", "PS3.18 §8.7.5"),
    subject="part",
)
def transfer_syntax_not_accepted(subject: PartSubject) -> Iterator[Finding]:
    request = subject.response.require_request()
    _dicom_part(subject)
    actual = subject.part.dicom.transfer_syntax_uid
    if actual is None:
        raise NotApplicable
    accepted = accepted_transfer_syntaxes(request.accept)
    if not accepted.allows(actual):
        yield CATALOGUE["WADO-RS-033"].finding(
            f"{transfer_syntax.name_of(actual)} was not accepted by the request",
            _at(subject),
            expected=", ".join(sorted(accepted.uids)),
            actual=actual,
        )


@CATALOGUE.rule(
    "WADO-RS-034",
    "transfer-syntax-forbidden-in-response",
    severity=ERROR,
    summary="No instance may be sent in Implicit VR Little Endian or Explicit VR Big Endian",
    what="No part's File Meta transfer syntax is 1.2.840.10008.1.2 or 1.2.840.10008.1.2.2.",
    why="PS3.18 §8.7.3: web services shall not use them, even when the stored file is in "
    "Implicit VR: the server must transcode (Explicit VR Little Endian is lossless).",
    bad="(part File Meta Transfer Syntax 1.2.840.10008.1.2)",
    good="(part File Meta Transfer Syntax 1.2.840.10008.1.2.1)",
    references=("PS3.18 §8.7.3",),
    subject="part",
)
def transfer_syntax_forbidden_in_response(subject: PartSubject) -> Iterator[Finding]:
    _dicom_part(subject)
    actual = subject.part.dicom.transfer_syntax_uid
    if actual is None:
        raise NotApplicable
    if transfer_syntax.is_forbidden_on_web(actual):
        yield CATALOGUE["WADO-RS-034"].finding(
            f"{transfer_syntax.name_of(actual)} is forbidden on the web",
            _at(subject),
            actual=actual,
        )


@CATALOGUE.rule(
    "WADO-RS-035",
    "instance-outside-requested-resource",
    severity=ERROR,
    summary="Every instance must belong to the requested study, series or instance",
    what="Each part's Study Instance UID (and Series / SOP Instance UID when the request "
    "named them) equals the UIDs of the request target.",
    why="PS3.18 §10.4.3 returns the instances of the target resource; an instance of "
    "another study would be shown to the physician as part of this patient's exam.",
    bad="GET .../studies/1.2.3/series/1.2.3.4\n(part of series 1.2.3.9)",
    good="GET .../studies/1.2.3/series/1.2.3.4\n(every part of series 1.2.3.4)",
    references=("PS3.18 §10.4.3",),
    subject="part",
)
def instance_outside_resource(subject: PartSubject) -> Iterator[Finding]:
    request = subject.response.require_request()
    _dicom_part(subject)
    resource = request.resource
    dicom = subject.part.dicom
    if resource is None or dicom.parse_error is not None:
        raise NotApplicable
    pairs = [("study", resource.study, dicom.study_instance_uid)]
    if resource.series is not None:
        pairs.append(("series", resource.series, dicom.series_instance_uid))
    if resource.instance is not None:
        pairs.append(("instance", resource.instance, dicom.sop_instance_uid))
    for label, wanted, got in pairs:
        if got is not None and got != wanted:
            yield CATALOGUE["WADO-RS-035"].finding(
                f"part belongs to {label} {got}, the request asked for {wanted}",
                _at(subject),
                expected=f"request: {expected_identity(subject)}",
                actual=f"part: {dicom.identity}",
            )


def _parsed(subject: PartSubject) -> DicomFacts:
    _dicom_part(subject)
    dicom = subject.part.dicom
    if dicom.parse_error is not None:
        raise NotApplicable
    return dicom


@CATALOGUE.rule(
    "DICOM-001",
    "part10-header-missing",
    severity=ERROR,
    summary="Each DICOM part must be a Part 10 file: 128-byte preamble then `DICM`",
    what="The part starts with a 128-byte preamble followed by the four bytes `DICM`.",
    why="PS3.18 §8.7.3 carries instances as PS3.10 files; PS3.10 §7.1 makes the preamble "
    "and prefix mandatory. A bare dataset has no File Meta, so no transfer syntax.",
    bad="(part starts with (0008,0005) ... : a dataset without File Meta)",
    good=PART10,
    references=("PS3.10 §7.1", "PS3.18 §8.7.3"),
    subject="part",
)
def part10_header_missing(subject: PartSubject) -> Iterator[Finding]:
    _dicom_part(subject)
    if subject.part.size == 0:
        yield CATALOGUE["DICOM-001"].finding("empty part", _at(subject))
    elif not subject.part.dicom.has_preamble:
        yield CATALOGUE["DICOM-001"].finding("no 128-byte preamble and DICM prefix", _at(subject))


@CATALOGUE.rule(
    "DICOM-002",
    "file-meta-element-missing",
    severity=ERROR,
    summary="The File Meta Information must hold its Type 1 elements",
    what="The File Meta group holds (0002,0000) group length, (0002,0001) version, "
    "(0002,0002) SOP class, (0002,0003) SOP instance, (0002,0010) transfer syntax and "
    "(0002,0012) implementation class UID.",
    why="PS3.10 §7.1 makes them Type 1; without the transfer syntax the consumer cannot "
    "decode the dataset, without the others it cannot file it.",
    bad="DICM (0002,0001) (0002,0002) (0002,0003)  (no (0002,0010))",
    good=PART10,
    references=("PS3.10 §7.1",),
    subject="part",
)
def file_meta_element_missing(subject: PartSubject) -> Iterator[Finding]:
    dicom = _parsed(subject)
    if not dicom.has_preamble:
        raise NotApplicable
    missing = [k for k in REQUIRED_META if not dicom.meta.get(k)]
    if missing:
        yield CATALOGUE["DICOM-002"].finding(
            f"File Meta lacks {', '.join(missing)}",
            Location(part=subject.part.index, tag_path="(0002)"),
        )


@CATALOGUE.rule(
    "DICOM-003",
    "file-meta-sop-mismatch",
    severity=ERROR,
    summary="File Meta SOP Class/Instance UIDs must equal the dataset's",
    what="(0002,0002) equals (0008,0016) and (0002,0003) equals (0008,0018).",
    why="PS3.10 §7.1: the File Meta describes the dataset; a mismatch means the file was "
    "rewritten carelessly and a consumer indexing by File Meta files it wrongly.",
    bad="(0002,0003)=1.2.3.4 but (0008,0018)=1.2.3.5",
    good="(0002,0003)=1.2.3.4 and (0008,0018)=1.2.3.4",
    references=("PS3.10 §7.1",),
    subject="part",
)
def file_meta_sop_mismatch(subject: PartSubject) -> Iterator[Finding]:
    dicom = _parsed(subject)
    pairs = (
        ("MediaStorageSOPClassUID", "(0002,0002)", dicom.sop_class_uid, "(0008,0016)"),
        ("MediaStorageSOPInstanceUID", "(0002,0003)", dicom.sop_instance_uid, "(0008,0018)"),
    )
    if not dicom.meta:
        raise NotApplicable
    in_meta = (
        f"File Meta: SOP class {dicom.meta.get('MediaStorageSOPClassUID') or '(none)'} | "
        f"instance {dicom.meta.get('MediaStorageSOPInstanceUID') or '(none)'}"
    )
    in_dataset = (
        f"data set: SOP class {dicom.sop_class_uid or '(none)'} | "
        f"instance {dicom.sop_instance_uid or '(none)'}"
    )
    for keyword, meta_tag, value, tag in pairs:
        meta_value = dicom.meta.get(keyword)
        if meta_value and value and meta_value != value:
            yield CATALOGUE["DICOM-003"].finding(
                f"{meta_tag} {meta_value} differs from {tag} {value}",
                Location(part=subject.part.index, tag_path=meta_tag),
                expected=in_dataset,
                actual=in_meta,
            )


@CATALOGUE.rule(
    "DICOM-004",
    "dataset-unreadable",
    severity=ERROR,
    summary="Each DICOM part must parse as a dataset",
    what="The part's File Meta and dataset header (up to Pixel Data) parse without error.",
    why="A consumer that cannot parse a part cannot display it (PS3.10 §7, PS3.5 §7); the "
    "usual cause is a truncated or corrupted part.",
    bad="(part cut in the middle of an element)",
    good=PART10,
    references=("PS3.10 §7", "PS3.5 §7.1"),
    subject="part",
)
def dataset_unreadable(subject: PartSubject) -> Iterator[Finding]:
    _dicom_part(subject)
    dicom = subject.part.dicom
    if dicom.parse_error is None or subject.part.size == 0:
        return
    rule = CATALOGUE["DICOM-004"]
    if dicom.header_truncated:
        yield rule.finding(
            f"header larger than the parse limit, not checked ({dicom.parse_error})",
            _at(subject),
            severity=INFO,
        )
    else:
        yield rule.finding(dicom.parse_error, _at(subject))


@CATALOGUE.rule(
    "DICOM-005",
    "identifying-uid-missing",
    severity=ERROR,
    summary="Each instance must carry valid Study, Series, SOP Class and SOP Instance UIDs",
    what="(0020,000D), (0020,000E), (0008,0016) and (0008,0018) are present and are "
    "well-formed UIDs.",
    why="They are Type 1 in every composite IOD (PS3.3 C.7.2.1, C.7.3.1, C.12.1); the "
    "consumer files and de-duplicates instances by them.",
    bad="(dataset without (0020,000E) Series Instance UID)",
    good="(0020,000D)=1.2.3 (0020,000E)=1.2.3.4 "
    "(0008,0016)=1.2.840.10008.5.1.4.1.1.2 (0008,0018)=1.2.3.4.5",
    references=("PS3.3 C.12.1", "PS3.3 C.7.2.1", "PS3.3 C.7.3.1", "PS3.5 §9.1"),
    subject="part",
)
def identifying_uid_missing(subject: PartSubject) -> Iterator[Finding]:
    dicom = _parsed(subject)
    values = (
        ("StudyInstanceUID", "(0020,000D)", dicom.study_instance_uid),
        ("SeriesInstanceUID", "(0020,000E)", dicom.series_instance_uid),
        ("SOPClassUID", "(0008,0016)", dicom.sop_class_uid),
        ("SOPInstanceUID", "(0008,0018)", dicom.sop_instance_uid),
    )
    for keyword, tag, value in values:
        where = Location(part=subject.part.index, tag_path=tag)
        if not value:
            yield CATALOGUE["DICOM-005"].finding(f"{keyword} {tag} is missing", where)
        elif (problem := uid_problem(value)) is not None:
            yield CATALOGUE["DICOM-005"].finding(
                f"{keyword} {value[:80]!r}: {problem}", where, actual=value[:80]
            )


@CATALOGUE.rule(
    "DICOM-006",
    "file-meta-transfer-syntax-unknown",
    severity=ERROR,
    summary="The File Meta transfer syntax must be a known transfer syntax",
    what="(0002,0010) is a Transfer Syntax UID listed in PS3.6.",
    why="A consumer cannot decode a dataset in a transfer syntax it has never heard of "
    "(PS3.5 §10).",
    bad="(0002,0010)=1.2.3.4",
    good="(0002,0010)=1.2.840.10008.1.2.1",
    references=("PS3.5 §10", "PS3.6 Annex A"),
    subject="part",
)
def file_meta_transfer_syntax_unknown(subject: PartSubject) -> Iterator[Finding]:
    dicom = _parsed(subject)
    uid = dicom.transfer_syntax_uid
    if not uid:
        raise NotApplicable
    if not transfer_syntax.is_known(uid):
        yield CATALOGUE["DICOM-006"].finding(
            f"transfer syntax {uid[:80]} is unknown",
            Location(part=subject.part.index, tag_path="(0002,0010)"),
            actual=uid[:80],
        )


def _checker(subject: PartSubject) -> None:
    _dicom_part(subject)
    if subject.part.checker_errors is None:
        raise NotApplicable


@CATALOGUE.rule(
    "DICOM-007",
    "iod-error",
    severity=ERROR,
    summary="The instance must conform to its IOD (errors found by dciodvfy)",
    what="The independent IOD checker dciodvfy (dicom3tools) finds no error in the part.",
    why="A second, independent reading of PS3.3: missing Type 1/2 attributes, bad values "
    "or VRs that make viewers misbehave. Only run with `--dciodvfy`.",
    bad="Error - <.../(0020,0060)> - Missing attribute Type 2C Conditional Element=<Laterality>",
    good="(dciodvfy prints the IOD name and no Error line)",
    references=("PS3.3", "PS3.5 §6.2"),
    subject="part",
)
def iod_error(subject: PartSubject) -> Iterator[Finding]:
    _checker(subject)
    for message in subject.part.checker_errors or ():
        yield CATALOGUE["DICOM-007"].finding(
            message.text, Location(part=subject.part.index, tag_path=message.location)
        )


@CATALOGUE.rule(
    "DICOM-008",
    "iod-warning",
    severity=WARNING,
    summary="Warnings dciodvfy gives about the instance",
    what="The independent IOD checker dciodvfy (dicom3tools) gives no warning for the part.",
    why="Warnings point at dubious but legal content (retired attributes, unusual values); "
    "worth a look, never a failure. Only run with `--dciodvfy`.",
    bad="Warning - <.../(0008,1190)> - Attribute is not present in standard DICOM IOD",
    good="(dciodvfy prints no Warning line)",
    references=("PS3.3",),
    subject="part",
)
def iod_warning(subject: PartSubject) -> Iterator[Finding]:
    _checker(subject)
    for message in subject.part.checker_warnings:
        yield CATALOGUE["DICOM-008"].finding(
            message.text, Location(part=subject.part.index, tag_path=message.location)
        )


@CATALOGUE.rule(
    "DICOM-009",
    "parser-warning",
    severity=INFO,
    summary="What the DICOM parser noticed while reading the part header",
    what="The DICOM parser reads the part's header without warnings (odd VRs, lengths, "
    "non-standard encodings).",
    why="Parser warnings often announce a file other toolkits will reject (PS3.5 §7).",
    bad="(a UI element padded with a space instead of a NUL)",
    good="(no parser warning)",
    references=("PS3.5 §7",),
    subject="part",
)
def parser_warning(subject: PartSubject) -> Iterator[Finding]:
    _dicom_part(subject)
    for note in subject.part.dicom.notes:
        yield CATALOGUE["DICOM-009"].finding(note, _at(subject))
