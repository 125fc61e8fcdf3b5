"""KOS: the evidence of the DRIM-M KOS manifest — series, Retrieve URLs, content items.

Each evidence series needs a valid UID, one WADO-RS Retrieve URL naming that very study and
series (https under DRIM-M) and its instances; every IMAGE/COMPOSITE content item must
reference an evidence instance and every evidence instance must be referenced; a manifest
holds no pixel data and has its Key Object Description. Patient, request and IOD rules are in
`kos.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from pydicom import Dataset

from drimlab.dicomweb.uids import uid_problem
from drimlab.documents.kos import Kos
from drimlab.domain import KEY_OBJECT_DESCRIPTION
from drimlab.validation.findings import Finding, Location
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.kos import (
    DRIM_M,
    ERROR,
    KOS_IOD,
    WARNING,
    XDSI,
    evidence_series,
    items,
    text,
)
from drimlab.validation.subjects import KosSubject


@CATALOGUE.rule(
    "KOS-011",
    "kos-series-uid-invalid",
    severity=ERROR,
    summary="The evidence must reference the KOS's study, each series by a valid UID",
    what="Current Requested Procedure Evidence Sequence (0040,A375) is present, each item's "
    "Study Instance UID is the KOS's, and each Referenced Series Sequence item has a "
    "well-formed Series Instance UID (0020,000E), each series listed once.",
    why="The consumer derives one WADO-RS request per evidence series; a missing or "
    "malformed series UID makes that request impossible.",
    bad="(0040,A375)[0]/(0008,1115)[0]/(0020,000E) absent",
    good="(0040,A375)[0]/(0008,1115)[0]/(0020,000E) = 1.2.826.0.1.3680043.8.498.7864",
    references=(XDSI, "PS3.3 Table 10-4 Hierarchical SOP Instance Reference Macro"),
    subject="kos",
)
def kos_series_uid_invalid(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-011"]
    studies = items(subject.kos.dataset, "CurrentRequestedProcedureEvidenceSequence")
    if not studies:
        yield rule.finding("no evidence sequence", Location(tag_path="(0040,A375)"))
        return
    own = text(subject.kos.dataset, "StudyInstanceUID")
    seen: set[str] = set()
    for s, study in enumerate(studies):
        if text(study, "StudyInstanceUID") != own:
            yield rule.finding(
                "the evidence names another study",
                Location(tag_path=f"(0040,A375)[{s}]/(0020,000D)"),
                expected=own,
                actual=text(study, "StudyInstanceUID") or "(absent)",
            )
        series_items = items(study, "ReferencedSeriesSequence")
        if not series_items:
            yield rule.finding(
                "the evidence lists no series", Location(tag_path=f"(0040,A375)[{s}]/(0008,1115)")
            )
        for index, series in enumerate(series_items):
            uid = text(series, "SeriesInstanceUID")
            where = Location(tag_path=f"(0040,A375)[{s}]/(0008,1115)[{index}]/(0020,000E)")
            problem = uid_problem(uid)
            if problem:
                yield rule.finding(f"Series Instance UID: {problem}", where, actual=uid)
            elif uid in seen:
                yield rule.finding("the series is listed twice", where, actual=uid)
            seen.add(uid)


def _url_problem(url: str, study: str, series: str) -> str | None:
    if not url:
        return "no Retrieve URL (0008,1190)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the Retrieve URL is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the Retrieve URL is not an absolute http(s) URL"
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        return "the Retrieve URL has a query, a fragment or spaces"
    tail = f"/studies/{study}/series/{series}"
    if not parts.path.rstrip("/").endswith(tail):
        return f"the Retrieve URL path does not end with {tail}"
    return None


@CATALOGUE.rule(
    "KOS-012",
    "kos-retrieve-url-invalid",
    severity=ERROR,
    summary="Each series needs a Retrieve URL: the WADO-RS resource of that study and series",
    what="Each Referenced Series Sequence item has a Retrieve URL (0008,1190) that is an "
    "absolute http(s) URL whose path ends with `/studies/{StudyUID}/series/{SeriesUID}` "
    "of that very study and series, without query or fragment.",
    why="The consumer takes everything before `/studies` as the source's WADO-RS base and "
    "fetches the series at the URL: a wrong or missing URL means no images.",
    bad="(0008,1190) = https://pacs.example/wado?studyUID=1.2.3",
    good="(0008,1190) = https://db.example/dicom-web/studies/1.2.3/series/1.2.3.4",
    references=(XDSI, "PS3.18 §10.4.1.1.2 Retrieve Series", DRIM_M),
    subject="kos",
)
def kos_retrieve_url_invalid(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-012"]
    for study, at, series in evidence_series(subject.kos):
        url = text(series, "RetrieveURL")
        problem = _url_problem(url, study, text(series, "SeriesInstanceUID"))
        if problem:
            yield rule.finding(problem, Location(tag_path=f"{at}/(0008,1190)"), actual=url)


@CATALOGUE.rule(
    "KOS-013",
    "kos-retrieve-url-not-https",
    severity=WARNING,
    summary="A DRIM-M Retrieve URL should use https",
    what="The Retrieve URL scheme is `https`.",
    why="DRIM-M exchanges between DRIMBoxes are mutual TLS only; an `http:` URL (as in the "
    "ANS samples pointing at `http://localhost:4200`) only works on a test bench.",
    bad="(0008,1190) = http://localhost:4200/api/source/studies/1.2/series/1.2.3",
    good="(0008,1190) = https://db.example/dicom-web/studies/1.2/series/1.2.3",
    references=(DRIM_M,),
    subject="kos",
)
def kos_retrieve_url_not_https(subject: KosSubject) -> Iterator[Finding]:
    for _study, at, series in evidence_series(subject.kos):
        url = text(series, "RetrieveURL")
        if url.lower().startswith("http:"):
            yield CATALOGUE["KOS-013"].finding(
                "the Retrieve URL is plain http",
                Location(tag_path=f"{at}/(0008,1190)"),
                expected="https://...",
                actual=url,
            )


@CATALOGUE.rule(
    "KOS-014",
    "kos-series-without-instances",
    severity=ERROR,
    summary="Each evidence series must list its instances by SOP Class and Instance UID",
    what="Each Referenced Series Sequence item has a non-empty Referenced SOP Sequence "
    "(0008,1199) whose items carry well-formed Referenced SOP Class and Instance UIDs, "
    "each instance listed once.",
    why="The consumer checks the retrieved images against that list and the source uses it "
    "to decide what a KOS gives access to.",
    bad="(0008,1115)[0]/(0008,1199) empty",
    good="(0008,1115)[0]/(0008,1199)[0] = (1.2.840.10008.5.1.4.1.1.2, 1.2.3.4.5)",
    references=(XDSI, "PS3.3 Table 10-4 Hierarchical SOP Instance Reference Macro"),
    subject="kos",
)
def kos_series_without_instances(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-014"]
    seen: set[str] = set()
    for _study, at, series in evidence_series(subject.kos):
        refs = items(series, "ReferencedSOPSequence")
        base = f"{at}/(0008,1199)"
        if not refs:
            yield rule.finding("the series lists no instance", Location(tag_path=base))
        for r, ref in enumerate(refs):
            for keyword, tag in (
                ("ReferencedSOPClassUID", "(0008,1150)"),
                ("ReferencedSOPInstanceUID", "(0008,1155)"),
            ):
                problem = uid_problem(text(ref, keyword))
                if problem:
                    yield rule.finding(
                        f"{keyword}: {problem}",
                        Location(tag_path=f"{base}[{r}]/{tag}"),
                        actual=text(ref, keyword),
                    )
            uid = text(ref, "ReferencedSOPInstanceUID")
            if uid and uid in seen:
                yield rule.finding(
                    "the instance is listed twice in the evidence",
                    Location(tag_path=f"{base}[{r}]"),
                    actual=uid,
                )
            seen.add(uid)


def _evidence_instances(kos: Kos) -> dict[str, str]:
    return {
        text(ref, "ReferencedSOPInstanceUID"): text(ref, "ReferencedSOPClassUID")
        for _study, _at, series in evidence_series(kos)
        for ref in items(series, "ReferencedSOPSequence")
    }


def _content_references(kos: Kos) -> Iterator[tuple[int, str, str]]:
    for index, item in enumerate(items(kos.dataset, "ContentSequence")):
        if text(item, "ValueType") in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            for ref in items(item, "ReferencedSOPSequence") or [Dataset()]:
                yield (
                    index,
                    text(ref, "ReferencedSOPInstanceUID"),
                    text(ref, "ReferencedSOPClassUID"),
                )


@CATALOGUE.rule(
    "KOS-015",
    "kos-content-not-in-evidence",
    severity=ERROR,
    summary="Every IMAGE/COMPOSITE content item must reference an instance of the evidence",
    what="Each IMAGE, COMPOSITE or WAVEFORM item of the Content Sequence (0040,A730) "
    "references an instance listed in the evidence, with the same SOP Class.",
    why="PS3.3 §C.17.6.2.1: the evidence lists every instance the content references; a "
    "content item outside it points at an image nobody can retrieve.",
    bad="(0040,A730)[3] IMAGE -> 1.2.3.99 (not in (0040,A375))",
    good="(0040,A730)[3] IMAGE -> 1.2.3.4 (listed in (0040,A375)[0]/(0008,1115)[0])",
    references=("PS3.3 §C.17.6.2.1", XDSI),
    subject="kos",
)
def kos_content_not_in_evidence(subject: KosSubject) -> Iterator[Finding]:
    rule = CATALOGUE["KOS-015"]
    evidence = _evidence_instances(subject.kos)
    for index, uid, sop_class in _content_references(subject.kos):
        where = Location(tag_path=f"(0040,A730)[{index}]/(0008,1199)")
        if uid not in evidence:
            yield rule.finding(
                "the content item references an instance absent from the evidence",
                where,
                actual=uid or "(no reference)",
            )
        elif evidence[uid] != sop_class:
            yield rule.finding(
                "the content item's SOP Class differs from the evidence",
                where,
                expected=evidence[uid],
                actual=sop_class,
            )


@CATALOGUE.rule(
    "KOS-016",
    "kos-evidence-not-in-content",
    severity=ERROR,
    summary="Every evidence instance must be referenced by a content item",
    what="Each instance of the evidence is referenced by an IMAGE/COMPOSITE content item.",
    why="An XDS-I.b manifest selects every instance of the exam; an instance only in the "
    "evidence is invisible to a viewer that walks the content tree.",
    bad="(0040,A375) lists 10 instances, (0040,A730) references 9",
    good="(0040,A375) and (0040,A730) reference the same 10 instances",
    references=(XDSI, "PS3.16 TID 2010"),
    subject="kos",
)
def kos_evidence_not_in_content(subject: KosSubject) -> Iterator[Finding]:
    referenced = {uid for _index, uid, _class in _content_references(subject.kos)}
    for uid in _evidence_instances(subject.kos):
        if uid and uid not in referenced:
            yield CATALOGUE["KOS-016"].finding(
                "an evidence instance is not referenced by the content",
                Location(tag_path="(0040,A730)"),
                actual=uid,
            )


@CATALOGUE.rule(
    "KOS-017",
    "kos-pixel-data-present",
    severity=ERROR,
    summary="A KOS carries references, never pixel data",
    what="The KOS has no Pixel Data (7FE0,0010), Float or Double Float Pixel Data.",
    why="A manifest is a small structured document the DMP stores; images travel by WADO-RS only.",
    bad="(7FE0,0010) present",
    good="no pixel data element",
    references=(KOS_IOD,),
    subject="kos",
)
def kos_pixel_data_present(subject: KosSubject) -> Iterator[Finding]:
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword in subject.kos.dataset:
            yield CATALOGUE["KOS-017"].finding(f"the KOS has {keyword}", Location(tag_path=keyword))


@CATALOGUE.rule(
    "KOS-018",
    "kos-description-missing",
    severity=ERROR,
    summary="The KOS must describe the exam in a Key Object Description TEXT item",
    what='The Content Sequence has a TEXT item titled (113012, DCM, "Key Object '
    'Description") with a non-empty Text Value.',
    why="DRIM-M shows that text to the physician choosing which exam to open; without it "
    "the manifest is a bare list of UIDs.",
    bad="(0040,A730) holds IMAGE items only",
    good="(0040,A730)[0] TEXT (113012, DCM, \"Key Object Description\") = 'Examen ... Serie 1'",
    references=(DRIM_M, "PS3.16 TID 2010"),
    subject="kos",
)
def kos_description_missing(subject: KosSubject) -> Iterator[Finding]:
    for item in items(subject.kos.dataset, "ContentSequence"):
        names = items(item, "ConceptNameCodeSequence")
        titled = bool(names) and text(names[0], "CodeValue") == KEY_OBJECT_DESCRIPTION.value
        if text(item, "ValueType") == "TEXT" and titled and text(item, "TextValue"):
            return
    yield CATALOGUE["KOS-018"].finding(
        "no Key Object Description text", Location(tag_path="(0040,A730)")
    )
