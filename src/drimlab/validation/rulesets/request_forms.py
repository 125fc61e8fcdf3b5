"""WADO-RQ: request forms PS3.18 does not define but the ANS dry run sends and labels OK.

Each rule names the PS3.18 (or RFC 9110) deviation. They are errors in the `dicomweb` profile,
which keeps PS3.18's strictness, and the `drim-m` profile lowers them to warnings so that the
requests of the ANS homologation dry run ("test à blanc", ansforge/DRIM-M_DATA) pass.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.dicomweb.media import IMPLIED_RANGE
from drimlab.dicomweb.paths import Kind
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable, RequestSubject

ERROR = Severity.ERROR
ANS_DRY_RUN = "DRIM-M: ANS homologation dry run (ansforge/DRIM-M_DATA), samples labelled OK"
FRAMES_TARGET = "GET /dicom-web/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5/frames/1"


def _where(index: int) -> Location:
    return Location(header="Accept", path=f"media range {index + 1}")


@CATALOGUE.rule(
    "WADO-RQ-018",
    "accept-range-without-media-type",
    severity=ERROR,
    summary="An Accept media range must start with its type/subtype",
    what="Each Accept element is `type/subtype` followed by its parameters; none is written "
    "as parameters alone (`transfer-syntax=...;q=...`). Such an element is read as "
    f"`{IMPLIED_RANGE}` with its parameters, which is how the ANS validator reads it.",
    why="RFC 9110 §12.5.1 defines a media range as `type/subtype` then parameters; a range "
    "without it is not HTTP, and a strict source answers 400 (Orthanc does). The ANS dry run "
    "sends it and labels the request OK, so the drim-m profile makes it a warning.",
    bad="Accept: transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9;boundary=myboundary",
    good='Accept: multipart/related; type="application/dicom"; '
    "transfer-syntax=1.2.840.10008.1.2.4.50; q=0.9",
    references=("RFC 9110 §12.5.1", "PS3.18 §8.7.3.5", ANS_DRY_RUN),
    subject="request",
)
def accept_range_without_media_type(subject: RequestSubject) -> Iterator[Finding]:
    if subject.accept is None:
        raise NotApplicable
    for index, media in enumerate(subject.accept.ranges):
        if media.implied:
            written = "; ".join(f"{p.name}={p.value}" for p in media.parameters[1:])
            yield CATALOGUE["WADO-RQ-018"].finding(
                f"media range {index + 1} has no type/subtype (read as {IMPLIED_RANGE})",
                _where(index),
                expected=f"{IMPLIED_RANGE}; {written}",
                actual=written[:200],
            )


@CATALOGUE.rule(
    "WADO-RQ-019",
    "frames-asked-as-dicom",
    severity=ERROR,
    summary="A frames request asks for pixel media types, not application/dicom",
    what='A Retrieve Frames request does not ask `multipart/related; type="application/dicom"`: '
    "frames are pixel data (`application/octet-stream` for uncompressed frames, or a pixel "
    "media type such as `image/jls`, `image/jp2`, `image/jpeg`).",
    why="PS3.18 §10.4.1.1.4 and §8.7.3.3 return frames as bulk data, never as DICOM instances; "
    "a strict source answers 406 or 400 (Orthanc answers 400). The ANS dry run sends this "
    "Accept on its frames request and labels it OK, so the drim-m profile makes it a warning.",
    bad=f'{FRAMES_TARGET}\nAccept: multipart/related; type="application/dicom"',
    good=f'{FRAMES_TARGET}\nAccept: multipart/related; type="application/octet-stream"',
    references=("PS3.18 §10.4.1.1.4", "PS3.18 §8.7.3.3", ANS_DRY_RUN),
    subject="request",
)
def frames_asked_as_dicom(subject: RequestSubject) -> Iterator[Finding]:
    resource = subject.resource
    if resource is None or resource.kind is not Kind.FRAMES or subject.accept is None:
        raise NotApplicable
    for index, media in enumerate(subject.accept.ranges):
        inner = (media.param("type") or "").strip().lower()
        if media.essence == "multipart/related" and inner == "application/dicom":
            yield CATALOGUE["WADO-RQ-019"].finding(
                "frames asked as application/dicom instances",
                _where(index),
                expected='multipart/related; type="application/octet-stream"',
                actual=str(media)[:200],
            )
