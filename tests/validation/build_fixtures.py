"""Write the rule fixtures of `tests/fixtures/wado/`: a bad and a good message per rule.

Run `python -m tests.validation.build_fixtures` from the project root after changing a case.
Requests are `<CODE>-bad.http` / `<CODE>-good.http`; responses `<CODE>-bad.resp` /
`<CODE>-good.resp`, answered to `<stem>.req` when present, else to `_request.req`.
`_kos.dcm` is the KOS of the fixture exam (used by the rules listed in `NEEDS_KOS`).
"""

from __future__ import annotations

import gzip
from pathlib import Path

from pydicom import Dataset
from pydicom.uid import (
    UID,
    ImplicitVRLittleEndian,
    JPEGLSLossless,
    SecondaryCaptureImageStorage,
)

from drimlab.datasets.kos_build import build_kos, write_kos
from tests.validation.builder import (
    ACCEPT,
    BASE,
    BOUNDARY,
    EXPIRED_TOKEN,
    EXTRA_INSTANCE,
    INSTANCES,
    KOS_UID,
    OTHER_SERIES,
    SERIES,
    STUDY,
    chunk_encode,
    default_body,
    instance,
    multipart,
    part10,
    part_headers,
    request,
    response,
    with_header,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wado"
SERIES_URL = f"{BASE}/studies/{STUDY}/series/{SERIES}"
MP = 'multipart/related; type="application/dicom"'
NEEDS_KOS = {
    "DRIM-007",
    "DRIM-008",
    "DRIM-009",
    "DRIM-010",
    "DRIM-012",
    "DRIM-022",
    "DRIM-023",
    "DRIM-024",
    "DRIM-025",
    "DRIM-026",
}


def _accept(value: str) -> list[tuple[str, str]]:
    return with_header("Accept", value)


def request_cases() -> dict[str, tuple[bytes, bytes]]:
    good = request()
    mp = 'multipart/related; type="application/dicom"'
    return {
        "WADO-RQ-001": (request(method="POST"), good),
        "WADO-RQ-002": (request(f"{BASE}/study/{STUDY}/series/{SERIES}"), good),
        "WADO-RQ-003": (request(f"{BASE}/studies/1.2.03/series/{SERIES}"), good),
        "WADO-RQ-004": (request(drop=("Accept",)), good),
        "WADO-RQ-005": (request(headers=_accept("multipart/related; type")), good),
        "WADO-RQ-006": (request(headers=_accept("application/dicom+json")), good),
        "WADO-RQ-007": (
            request(headers=_accept("multipart/related; type=application/dicom")),
            good,
        ),
        "WADO-RQ-008": (
            request(headers=_accept("multipart/related; transfer-syntax=1.2.840.10008.1.2.1")),
            good,
        ),
        "WADO-RQ-009": (request(headers=_accept(f"{mp}; transfer-syntax=1.2.3.4")), good),
        "WADO-RQ-010": (
            request(
                headers=_accept(
                    f"{mp}; transfer-syntax=1.2.840.10008.1.2.4.80; "
                    "transfer-syntax=1.2.840.10008.1.2.1"
                )
            ),
            request(
                headers=_accept(f"{mp}; transfer-syntax=1.2.840.10008.1.2.4.80, {ACCEPT}; q=0.5")
            ),
        ),
        "WADO-RQ-011": (request(headers=_accept(f"{mp}; transfer-syntax=1.2.840.10008.1.2")), good),
        "WADO-RQ-012": (request(headers=_accept(f"{ACCEPT}; q=1.5")), good),
        "WADO-RQ-013": (request(headers=_accept(f"{ACCEPT}; boundary=**")), good),
        "WADO-RQ-014": (request(headers=_accept(f"{ACCEPT},")), good),
        "WADO-RQ-015": (request(extra_lines=("X-Broken header line",)), good),
        "WADO-RQ-016": (request(drop=("Host",)), good),
        "WADO-RQ-017": (
            request(body=b"hello", extra_lines=("Content-Length: 5",)),
            good,
        ),
        "WADO-RQ-018": (
            request(headers=_accept("transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9")),
            request(headers=_accept(f"{mp}; transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9")),
        ),
        "WADO-RQ-019": (
            request(f"{SERIES_URL}/instances/{INSTANCES[0]}/frames/1", headers=_accept(mp)),
            request(
                f"{SERIES_URL}/instances/{INSTANCES[0]}/frames/1",
                headers=_accept('multipart/related; type="application/octet-stream"'),
            ),
        ),
        "DRIM-001": (request(drop=("Authorization",)), good),
        "DRIM-002": (request(headers=with_header("Authorization", "Basic dXNlcjpwYXNz")), good),
        "DRIM-003": (
            request(headers=with_header("Authorization", "Bearer eyJhbGciOiJSUzI1NiIsInR5cCIgO")),
            good,
        ),
        "DRIM-004": (
            request(
                headers=[
                    *with_header("Authorization", f"Bearer {EXPIRED_TOKEN}"),
                    ("Date", "Tue, 01 Dec 2026 10:00:00 GMT"),
                ]
            ),
            request(headers=[*with_header("Date", "Tue, 01 Dec 2026 10:00:00 GMT")]),
        ),
        "DRIM-005": (request(drop=("KOS-SOPInstanceUID",)), good),
        "DRIM-006": (request(headers=with_header("KOS-SOPInstanceUID", "1.2.03..4")), good),
        "DRIM-007": (request(headers=with_header("KOS-SOPInstanceUID", SERIES)), good),
        "DRIM-008": (request(f"{BASE}/studies/{STUDY}.7/series/{SERIES}"), good),
        "DRIM-009": (request(f"{BASE}/studies/{STUDY}/series/{OTHER_SERIES}"), good),
        "DRIM-010": (
            request(f"{SERIES_URL}/instances/{EXTRA_INSTANCE}"),
            request(f"{SERIES_URL}/instances/{INSTANCES[0]}"),
        ),
        "DRIM-011": (
            request(f"{BASE}/studies/{STUDY}/metadata", headers=_accept("application/dicom+json")),
            good,
        ),
        "DRIM-012": (request(f"https://other.example/wado/studies/{STUDY}/series/{SERIES}"), good),
    }


def _parts(*datas: bytes) -> bytes:
    return multipart((part_headers(), data) for data in datas)


def response_cases() -> dict[str, tuple[bytes, bytes]]:
    good = response()
    first, second = (part10(instance(uid)) for uid in INSTANCES)
    body = default_body()
    unquoted = f"multipart/related; type=application/dicom; boundary={BOUNDARY}"
    return {
        "WADO-RS-001": (response(b"oops", status="500 Internal Server Error"), good),
        "WADO-RS-002": (good, response(b"", status="400 Bad Request", content_type=None)),
        "WADO-RS-003": (response(content_type=None), good),
        "WADO-RS-004": (response(b"[]", content_type="application/dicom+json"), good),
        "WADO-RS-005": (
            response(content_type=f"multipart/related; boundary={BOUNDARY}"),
            good,
        ),
        "WADO-RS-006": (
            response(content_type='multipart/related; type="application/dicom"'),
            good,
        ),
        "WADO-RS-007": (response(content_type=unquoted), good),
        "WADO-RS-008": (response(length=False), good),
        "WADO-RS-009": (response(length=len(body) + 10), good),
        "WADO-RS-010": (
            response(chunked=chunk_encode(body, last=False)),
            response(chunked=chunk_encode(body)),
        ),
        "WADO-RS-011": (response(raw_lines=("X-Broken header line",)), good),
        "WADO-RS-012": (
            response(status="206 Partial Content"),
            response(
                status="206 Partial Content", extra=(("Warning", '299 source: "none missing"'),)
            ),
        ),
        "WADO-RS-013": (
            response(
                gzip.compress(body, mtime=0)[:-40],
                extra=(("Content-Encoding", "gzip"),),
            ),
            response(gzip.compress(body, mtime=0), extra=(("Content-Encoding", "gzip"),)),
        ),
        "WADO-RS-014": (
            response(b"", status="406 Not Acceptable", content_type=None),
            response(b"", status="406 Not Acceptable", content_type=None),
        ),
        "WADO-RS-020": (
            response(
                body.replace(f"--{BOUNDARY}\r\n".encode(), f"--{BOUNDARY} junk\r\n".encode(), 1)
            ),
            good,
        ),
        "WADO-RS-021": (response(body[: -len(f"--{BOUNDARY}--\r\n") - 2]), good),
        "WADO-RS-022": (response(f"--{BOUNDARY}--\r\n".encode()), good),
        "WADO-RS-023": (response(b"This is a preamble\r\n" + body), good),
        "WADO-RS-024": (response(_parts(first, first, second)), good),
        "WADO-RS-030": (
            response(
                multipart(
                    [
                        ([("Content-Type", "application/octet-stream")], first),
                        (part_headers(), second),
                    ]
                )
            ),
            good,
        ),
        "WADO-RS-031": (
            response(multipart((part_headers(None), d) for d in (first, second))),
            good,
        ),
        "WADO-RS-032": (
            response(multipart((part_headers(JPEGLSLossless), d) for d in (first, second))),
            good,
        ),
        "WADO-RS-033": (
            response(
                multipart(
                    (part_headers(JPEGLSLossless), part10(instance(uid), JPEGLSLossless))
                    for uid in INSTANCES
                )
            ),
            good,
        ),
        "WADO-RS-036": (
            good,
            response(
                multipart(
                    (part_headers(JPEGLSLossless), part10(instance(uid), JPEGLSLossless))
                    for uid in INSTANCES
                )
            ),
        ),
        "WADO-RS-034": (
            response(
                multipart(
                    (
                        part_headers(ImplicitVRLittleEndian),
                        part10(instance(uid), ImplicitVRLittleEndian),
                    )
                    for uid in INSTANCES
                )
            ),
            good,
        ),
        "WADO-RS-035": (
            response(_parts(first, part10(instance(f"{OTHER_SERIES}.5", series=OTHER_SERIES)))),
            good,
        ),
        "DICOM-001": (response(_parts(first[132:], second)), good),
        "DICOM-002": (response(_parts(_drop_implementation_uid(first), second)), good),
        "DICOM-003": (
            response(
                _parts(first.replace(INSTANCES[0].encode(), INSTANCES[1].encode(), 1), second)
            ),
            good,
        ),
        "DICOM-004": (response(_parts(first[:-3], second)), good),
        "DICOM-010": (response(_parts(first, part10(other_patient(INSTANCES[1])))), good),
        "DRIM-025": (
            response(_parts(*(part10(other_patient(uid)) for uid in INSTANCES))),
            response(_parts(*(part10(local_id_and_ins(uid)) for uid in INSTANCES))),
        ),
        "DRIM-026": (
            response(_parts(first, part10(instance(INSTANCES[1], series=OTHER_SERIES)))),
            good,
        ),
        "DICOM-005": (response(_parts(part10(_without_series(INSTANCES[0])), second)), good),
        "DICOM-006": (
            response(
                multipart(
                    [
                        ([("Content-Type", "application/dicom")], _unknown_syntax(first)),
                        (part_headers(), second),
                    ]
                )
            ),
            good,
        ),
        "DRIM-020": (good, response(b"", status="400 Bad Request", content_type=None)),
        "DRIM-021": (response(hsts=False), good),
        "DRIM-022": (response(_parts(first)), good),
        "DRIM-023": (response(_parts(first, second, part10(instance(EXTRA_INSTANCE)))), good),
        "DRIM-024": (
            response(
                _parts(
                    first, part10(instance(INSTANCES[1], sop_class=SecondaryCaptureImageStorage))
                )
            ),
            good,
        ),
    }


def other_patient(uid: str) -> Dataset:
    """The fixture instance, of another patient (another INS from the same issuer)."""
    ds = instance(uid)
    ds.PatientID = "190017512345678"
    ds.PatientName = "AUTRE^PATIENT"
    return ds


def local_id_and_ins(uid: str) -> Dataset:
    """The fixture instance under a local PatientID, its INS in OtherPatientIDsSequence."""
    ds = instance(uid)
    ins = Dataset()
    ins.PatientID = ds.PatientID
    ins.IssuerOfPatientID = "1.2.250.1.213.1.4.10"
    ins.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = [ins]
    ds.PatientID = "IPP-0042"
    ds.IssuerOfPatientID = "CH-TEST-ST-EXUPERY"
    return ds


def _without_series(uid: str) -> Dataset:
    ds = instance(uid)
    del ds.SeriesInstanceUID
    return ds


def _unknown_syntax(data: bytes) -> bytes:
    # Same length as 1.2.840.10008.1.2.1, so the File Meta group length stays right.
    return data.replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.9.9.9\x00", 1)


def _drop_implementation_uid(data: bytes) -> bytes:
    """Rewrite the File Meta without (0002,0012), fixing the group length."""
    from io import BytesIO

    from pydicom import dcmread, dcmwrite

    ds = dcmread(BytesIO(data))
    del ds.file_meta.ImplementationClassUID
    del ds.file_meta.ImplementationVersionName
    out = BytesIO()
    dcmwrite(out, ds, enforce_file_format=False)
    raw = out.getvalue()
    return raw if raw[128:132] == b"DICM" else b"\x00" * 128 + b"DICM" + raw


REQUEST_SIDECARS = {
    "WADO-RS-014": (
        request(),
        request(headers=_accept(f"{MP}; transfer-syntax=1.2.840.10008.1.2.4.80")),
    ),
    "WADO-RS-002": (request(f"{BASE}/studies/1.2.03/series/{SERIES}"),) * 2,
    "DRIM-020": (request(drop=("KOS-SOPInstanceUID",)),) * 2,
    # JPEG-LS preferred to Explicit VR Little Endian: EVRLE parts are the less wanted.
    "WADO-RS-036": (
        request(headers=_accept(f"{MP}; transfer-syntax={JPEGLSLossless}; q=0.9, {ACCEPT}; q=0.4")),
    )
    * 2,
}


def build() -> dict[str, bytes]:
    """Every fixture file name and its bytes (except the KOS)."""
    files: dict[str, bytes] = {"_request.req": request()}
    for code, (bad, good) in request_cases().items():
        files[f"{code}-bad.http"] = bad
        files[f"{code}-good.http"] = good
    for code, (bad, good) in response_cases().items():
        files[f"{code}-bad.resp"] = bad
        files[f"{code}-good.resp"] = good
    for code, (bad_request, good_request) in REQUEST_SIDECARS.items():
        files[f"{code}-bad.req"] = bad_request
        files[f"{code}-good.req"] = good_request
    return files


def write_kos_fixture() -> None:
    kos = build_kos([instance(uid) for uid in INSTANCES], BASE)
    kos.SOPInstanceUID = KOS_UID
    if hasattr(kos, "file_meta"):
        kos.file_meta.MediaStorageSOPInstanceUID = UID(KOS_UID)
    write_kos(kos, FIXTURES / "_kos.dcm")


def main() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (FIXTURES / name).write_bytes(data)
    write_kos_fixture()
    print(f"wrote {len(build())} fixtures and _kos.dcm to {FIXTURES}")


if __name__ == "__main__":
    main()
