"""Build tiny WADO-RS messages for tests: Part 10 instances, multipart bodies, raw HTTP files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO

import jwt
from pydicom import Dataset, dcmwrite
from pydicom.dataset import FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian

from drimlab.dicomweb.multipart import encode

STUDY = "1.2.826.0.1.3680043.10.543.1"
SERIES = f"{STUDY}.1"
OTHER_SERIES = f"{STUDY}.2"
INSTANCES = (f"{SERIES}.1", f"{SERIES}.2")
EXTRA_INSTANCE = f"{SERIES}.3"
HOST = "source.example"
BASE = f"https://{HOST}/dicom-web"
BOUNDARY = "drimlab-fixture-boundary"
MULTIPART = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'
TOKEN = jwt.encode(
    {"sub": "899700000001", "exp": 4102444800},
    "drimlab-fixture-secret-of-thirty-two-bytes!",
    algorithm="HS256",
)
EXPIRED_TOKEN = jwt.encode(
    {"sub": "899700000001", "exp": 1600000000},
    "drimlab-fixture-secret-of-thirty-two-bytes!",
    algorithm="HS256",
)
KOS_UID = f"{STUDY}.99.1"


def instance(
    sop_uid: str,
    *,
    series: str = SERIES,
    study: str = STUDY,
    sop_class: str = CTImageStorage,
) -> Dataset:
    """A tiny CT header (no pixel data) with what a KOS build needs."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.PatientName = "FIXTURE^PATIENT"
    ds.PatientID = "248012345678901"
    ds.IssuerOfPatientID = "ASIP-SANTE-INS-NIR"
    ds.PatientBirthDate = "19800101"
    ds.PatientSex = "F"
    ds.AccessionNumber = "ACC1"
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.ReferringPhysicianName = ""
    ds.Modality = "CT"
    ds.SeriesNumber = 1
    ds.InstanceNumber = int(sop_uid.rsplit(".", 1)[1])
    ds.StudyDescription = "Fixture exam"
    ds.SeriesDescription = "Fixture series"
    return ds


def part10(ds: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> bytes:
    """The dataset as a Part 10 file in that transfer syntax (no pixel data, so any syntax)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = UID(transfer_syntax)
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.10.543.0")
    meta.ImplementationVersionName = "DRIMLAB_FIXTURE"
    copy = Dataset(ds)
    copy.file_meta = meta
    buffer = BytesIO()
    dcmwrite(buffer, copy, enforce_file_format=True)
    return buffer.getvalue()


def part_headers(transfer_syntax: str | None = ExplicitVRLittleEndian) -> list[tuple[str, str]]:
    value = "application/dicom"
    if transfer_syntax is not None:
        value += f"; transfer-syntax={transfer_syntax}"
    return [("Content-Type", value)]


def multipart(
    parts: Iterable[tuple[Sequence[tuple[str, str]], bytes]], boundary: str = BOUNDARY
) -> bytes:
    return b"".join(encode(boundary, ((h, [data]) for h, data in parts)))


def default_body(uids: Sequence[str] = INSTANCES) -> bytes:
    return multipart((part_headers(), part10(instance(uid))) for uid in uids)


def request(
    target: str = f"{BASE}/studies/{STUDY}/series/{SERIES}",
    headers: Sequence[tuple[str, str]] | None = None,
    *,
    method: str = "GET",
    body: bytes = b"",
    drop: Sequence[str] = (),
    extra_lines: Sequence[str] = (),
) -> bytes:
    """A raw request file; `headers` replaces the defaults, `drop` removes some by name."""
    if headers is None:
        headers = [
            ("Host", HOST),
            ("Accept", ACCEPT),
            ("Authorization", f"Bearer {TOKEN}"),
            ("KOS-SOPInstanceUID", KOS_UID),
        ]
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers if k not in drop]
    lines += list(extra_lines)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def with_header(name: str, value: str) -> list[tuple[str, str]]:
    """The default request headers with one replaced (or added)."""
    base = [
        ("Host", HOST),
        ("Accept", ACCEPT),
        ("Authorization", f"Bearer {TOKEN}"),
        ("KOS-SOPInstanceUID", KOS_UID),
    ]
    out = [(k, value if k == name else v) for k, v in base]
    if name not in dict(base):
        out.append((name, value))
    return out


def response(
    body: bytes | None = None,
    *,
    status: str = "200 OK",
    content_type: str | None = MULTIPART,
    length: bool | int = True,
    extra: Sequence[tuple[str, str]] = (),
    hsts: bool = True,
    chunked: bytes | None = None,
    raw_lines: Sequence[str] = (),
) -> bytes:
    """A raw response file. `chunked` gives an already chunk-encoded body instead of `body`."""
    payload = default_body() if body is None else body
    headers: list[tuple[str, str]] = []
    if content_type is not None:
        headers.append(("Content-Type", content_type))
    if chunked is not None:
        headers.append(("Transfer-Encoding", "chunked"))
        payload = chunked
    elif length is True:
        headers.append(("Content-Length", str(len(payload))))
    elif length is not False:
        headers.append(("Content-Length", str(length)))
    if hsts:
        headers.append(("Strict-Transport-Security", "max-age=63072000"))
    headers += list(extra)
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers] + list(raw_lines)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


def chunk_encode(data: bytes, size: int = 100, *, last: bool = True) -> bytes:
    out = b"".join(
        f"{len(data[i : i + size]):x}\r\n".encode() + data[i : i + size] + b"\r\n"
        for i in range(0, len(data), size)
    )
    return out + (b"0\r\n\r\n" if last else b"")
