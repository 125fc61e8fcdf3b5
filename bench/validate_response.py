"""Benchmark: validating one large WADO-RS response, against two peers measured in the same run.

    python bench/validate_response.py --size-mb 1024

A series-retrieve response of `--size-mb` MB (synthetic CT instances of `--instance-mb` MB,
in `--transfer-syntax` (Explicit VR Little Endian by default, or RLE, JPEG-LS, JPEG 2000
lossless), `Content-Length`-delimited) is written lazily to disk, then read by the contenders,
each in its own child process so its peak RSS is its own (`os.wait4`):

  drimlab          `load_request` + `load_response` + `validate_exchange(..., "drim-m")`,
                   which decodes every part's pixel data (the drim-m default)
  drimlab-no-pixels  the same with `--pixel-sample 0`: what pixel decoding costs
  dicomweb-client  its multipart decoder + `pydicom.dcmread` of every part, as
                   `DICOMwebClient.retrieve_series` does (a peer doing less checking)
  floor            SHA-256 of every part + a pydicom header parse of every part, tight loop
  sha256-only      (reference) SHA-256 of the whole body and nothing else: the ceiling of
                   any contender that hashes every byte, as drimlab and the floor must

Each child times its own work (interpreter start-up excluded; drimlab's contenders validate
once untimed first, so loading the decoder plug-ins is not counted); with `--repeat N` the
contenders run N times, interleaved, and the fastest run of each is kept (the page cache is
warm for all: the file was just written). Printed: MB/s, peak RSS, and the ratios
drimlab / dicomweb-client and drimlab / floor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

BOUNDARY = "drimlab-bench-0f3c9a7e"
ROOT = "1.2.826.0.1.3680043.10.4321."
STUDY_UID = ROOT + "1"
SERIES_UID = ROOT + "2"
KOS_UID = ROOT + "9"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
# The transfer-syntax list of the ANS sample request (Explicit VR Little Endian last).
ANS_SYNTAXES = (
    ("1.2.840.10008.1.2.4.70", "0.9"),
    ("1.2.840.10008.1.2.4.80", "0.8"),
    ("1.2.840.10008.1.2.4.91", "0.6"),
    ("1.2.840.10008.1.2.4.50", "0.5"),
    ("1.2.840.10008.1.2.4.51", "0.5"),
    (EXPLICIT_VR_LE, "0.4"),
)
# RLE, JPEG-LS and JPEG 2000 Lossless: what the datasets are pre-encoded in.
PIXEL_SYNTAXES = ("1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.90")
MB = 1024 * 1024
CHUNK = 1 << 20


# -- the response file ----------------------------------------------------------------------


def _instance_bytes(
    index: int, pixels: bytes, rows: int, columns: int, syntax: str = EXPLICIT_VR_LE
) -> bytes:
    """One CT instance as a Part 10 file (~len(pixels) bytes); UIDs of a fixed width.

    `pixels` is the Pixel Data value already in `syntax` (encapsulated when compressed).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, CTImageStorage

    sop = f"{ROOT}3.{100000 + index}"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = sop
    meta.TransferSyntaxUID = UID(syntax)
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = SERIES_UID
    ds.PatientName = "BENCH^LARGE"
    ds.PatientID = "BENCH001"
    ds.StudyDate = "20260101"
    ds.Modality = "CT"
    ds.BodyPartExamined = "CHEST"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 100000 + index
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = pixels
    if syntax != EXPLICIT_VR_LE:
        ds["PixelData"].VR = "OB"
    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _pixel_value(rows: int, columns: int, syntax: str) -> bytes:
    """Noisy 12-bit CT-like pixels, as the Pixel Data value of `syntax` (encoded once)."""
    import numpy as np
    import pydicom

    rng = np.random.default_rng(7)
    ramp = np.add.outer(np.arange(rows), np.arange(columns)).astype(np.uint16) % 4096
    pixels = (ramp + rng.integers(0, 64, (rows, columns), dtype=np.uint16)).tobytes()
    if syntax == EXPLICIT_VR_LE:
        return pixels
    ds = pydicom.dcmread(BytesIO(_instance_bytes(0, pixels, rows, columns)))
    plugin = "pyjpegls" if syntax == "1.2.840.10008.1.2.4.80" else "pylibjpeg"
    ds.compress(syntax, encoding_plugin=plugin, generate_instance_uid=False)
    return bytes(ds.PixelData)


def write_response(
    path: Path, size_mb: int, instance_mb: float, syntax: str = EXPLICIT_VR_LE
) -> tuple[int, int]:
    """Write the response file; return (instances, body bytes). One part in memory at a time."""
    columns = 1024
    rows = max(16, int(instance_mb * MB / (columns * 2)))
    pixels = _pixel_value(rows, columns, syntax)
    first = _instance_bytes(0, pixels, rows, columns, syntax)
    part_head = (
        f"--{BOUNDARY}\r\nContent-Type: application/dicom; transfer-syntax={syntax}\r\n"
        f"Content-Length: {len(first)}\r\n\r\n"
    ).encode()
    count = max(1, round(size_mb * MB / (len(first) + len(part_head) + 2)))
    close = f"--{BOUNDARY}--\r\n".encode()
    body_size = count * (len(part_head) + len(first) + 2) + len(close)
    head = (
        "HTTP/1.1 200 OK\r\n"
        f'Content-Type: multipart/related; type="application/dicom"; boundary={BOUNDARY}\r\n'
        f"Content-Length: {body_size}\r\n"
        "Strict-Transport-Security: max-age=63072000\r\n\r\n"
    ).encode()
    with path.open("wb") as out:
        out.write(head)
        for index in range(count):
            data = first if index == 0 else _instance_bytes(index, pixels, rows, columns, syntax)
            if len(data) != len(first):
                raise RuntimeError("instances must all have the same size")
            out.write(part_head)
            out.write(data)
            out.write(b"\r\n")
        out.write(close)
    return count, body_size


def write_request(path: Path, syntax: str = EXPLICIT_VR_LE) -> None:
    """The DRIM-M series request the response answers (ANS Accept list, Bearer, KOS header).

    A syntax the ANS list lacks (RLE, JPEG 2000 lossless) is added last, so the response is
    one the request accepted.
    """
    import jwt

    wanted = ANS_SYNTAXES
    if syntax not in dict(ANS_SYNTAXES):
        wanted = (*ANS_SYNTAXES, (syntax, "0.3"))
    accept = ",".join(
        f'multipart/related; type="application/dicom";transfer-syntax={uid};q={q}'
        for uid, q in wanted
    )
    token = jwt.encode(
        {"sub": "bench", "exp": 4102444800},
        "drimlab-benchmark-signing-key-of-32-bytes+",
        algorithm="HS256",
    )
    path.write_text(
        f"GET /dicom-web/studies/{STUDY_UID}/series/{SERIES_UID} HTTP/1.1\r\n"
        "Host: 127.0.0.1:8443\r\n"
        f"Accept: {accept}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"KOS-SOPInstanceUID: {KOS_UID}\r\n\r\n",
        newline="",
    )


# -- the contenders (each runs in a child process) -------------------------------------------


def _body_offset(path: Path) -> int:
    with path.open("rb") as handle:
        return handle.read(64 * 1024).index(b"\r\n\r\n") + 4


def run_drimlab(response: Path, request: Path, *, pixels: bool = True) -> dict[str, Any]:
    from drimlab.validation.assess import Selection
    from drimlab.validation.engine import validate_exchange
    from drimlab.validation.loaders import load_request, load_response

    selection = Selection.of("drim-m", pixel_sample=None if pixels else 0)  # loads the rules
    # A first pass loads what runs once per process (pydicom's decoder plug-ins are found on
    # first use, ~0.4 s); the second pass is timed.
    validate_exchange(load_response(response, load_request(request)), selection)
    started = time.perf_counter()
    exchange = load_response(response, load_request(request))
    report = validate_exchange(exchange, selection)
    elapsed = time.perf_counter() - started
    errors = sorted({f.rule for f in report.findings if f.severity.value == "error"})
    decoded = report.facts.get("pixels", {}).get("parts_with_pixel_data_decoded", 0)
    return {
        "elapsed": elapsed,
        "parts": len(report.parts),
        "verdict": report.verdict.value,
        "error_rules": errors,
        "decoded": decoded,
    }


def run_dicomweb_client(response: Path) -> dict[str, Any]:
    import pydicom
    import requests
    from dicomweb_client.api import DICOMwebClient

    started = time.perf_counter()
    with response.open("rb") as raw:
        raw.seek(_body_offset(response))
        answer = requests.Response()
        answer.status_code = 200
        answer.headers["Content-Type"] = (
            f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        )
        answer.raw = raw
        client = DICOMwebClient(url="http://127.0.0.1:9/dicom-web")
        # What retrieve_series does with a response: decode parts, dcmread each one.
        count = 0
        for part in client._decode_multipart_message(answer, stream=True):
            ds = pydicom.dcmread(BytesIO(part))
            count += ds.SOPInstanceUID is not None
    return {"elapsed": time.perf_counter() - started, "parts": count}


def run_floor(response: Path) -> dict[str, Any]:
    """Split parts, SHA-256 each, parse each one's header with pydicom: nothing more."""
    import pydicom

    delimiter = f"\r\n--{BOUNDARY}".encode()
    keep_head = 64 * 1024
    scan = 16 * 1024
    size = 4 * CHUNK
    buffer = bytearray(size + len(delimiter))
    view = memoryview(buffer)
    started = time.perf_counter()
    parts = 0
    digest: Any = None
    head = bytearray()
    pending = bytearray()  # the part headers read so far (while `digest` is None)

    def consume(data: memoryview) -> None:
        nonlocal digest
        if digest is None:
            before = len(pending)
            pending.extend(data[:scan])  # part headers are short: scan a window, not the part
            end = pending.find(b"\r\n\r\n")
            if end < 0:
                pending.extend(data[scan:])
                end = pending.find(b"\r\n\r\n")
                if end < 0:
                    return
            data = data[end + 4 - before :]
            pending.clear()
            digest = hashlib.sha256()
            head.clear()
        digest.update(data)
        if len(head) < keep_head:
            head.extend(data[: keep_head - len(head)])

    with response.open("rb", buffering=0) as raw:
        raw.seek(_body_offset(response))
        buffer[:2] = b"\r\n"  # the first delimiter has no CRLF of its own
        carry = 2
        while count := raw.readinto(view[carry : carry + size]):
            end = carry + count
            start = 0
            while (found := buffer.find(delimiter, start, end)) >= 0:
                consume(view[start:found])
                if digest is not None:
                    digest.hexdigest()
                    ds = pydicom.dcmread(BytesIO(head), stop_before_pixels=True)
                    parts += ds.SOPInstanceUID is not None
                digest = None
                pending.clear()
                start = found + len(delimiter)
            # Keep a delimiter's length minus one: a delimiter may straddle two reads.
            kept = max(start, end - len(delimiter) + 1)
            consume(view[start:kept])
            carry = end - kept
            buffer[:carry] = buffer[kept:end]
    return {"elapsed": time.perf_counter() - started, "parts": parts}


def run_sha256_only(response: Path) -> dict[str, Any]:
    """Not a contender: SHA-256 of the whole body, the ceiling of anything that hashes it."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    buffer = bytearray(4 * CHUNK)
    view = memoryview(buffer)
    with response.open("rb", buffering=0) as raw:
        raw.seek(_body_offset(response))
        while count := raw.readinto(buffer):
            digest.update(view[:count])
    return {"elapsed": time.perf_counter() - started, "parts": None}


def _child(which: str, response: Path, request: Path) -> None:
    if which == "drimlab":
        result = run_drimlab(response, request)
    elif which == "drimlab-no-pixels":
        result = run_drimlab(response, request, pixels=False)
    elif which == "dicomweb-client":
        result = run_dicomweb_client(response)
    elif which == "floor":
        result = run_floor(response)
    else:
        result = run_sha256_only(response)
    print(json.dumps(result))


def _measure(which: str, response: Path, request: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", which, str(response), str(request)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        output = proc.stdout.read()
        # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would sum them all).
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{which} failed with status {proc.returncode}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


CONTENDERS = ("drimlab", "drimlab-no-pixels", "dicomweb-client", "floor", "sha256-only")


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run, with the highest peak RSS seen over all runs."""
    best = dict(min(runs, key=lambda r: r["elapsed"]))
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256, help="response size (default 256)")
    parser.add_argument("--instance-mb", type=float, default=3.0, help="instance size (3)")
    parser.add_argument("--workdir", type=Path, help="where to write the files (temp dir)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; best kept (1)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument(
        "--transfer-syntax",
        default=EXPLICIT_VR_LE,
        choices=(EXPLICIT_VR_LE, *PIXEL_SYNTAXES),
        help="transfer syntax of the parts (Explicit VR Little Endian)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("WHICH", "RESPONSE", "REQUEST"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    if args.size_mb < 1 or args.instance_mb <= 0 or args.repeat < 1:
        parser.error("--size-mb, --instance-mb and --repeat must be positive")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="drimlab-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    response, request = workdir / "response.http", workdir / "request.http"
    try:
        started = time.perf_counter()
        count, body = write_response(response, args.size_mb, args.instance_mb, args.transfer_syntax)
        write_request(request, args.transfer_syntax)
        print(
            f"response: {count} instances in {args.transfer_syntax}, {body / MB:.0f} MB body "
            f"(written in {time.perf_counter() - started:.1f} s) at {response}"
        )
        runs: dict[str, list[dict[str, Any]]] = {n: [] for n in CONTENDERS}
        # Interleave the contenders so a burst of load on a shared machine hits them alike.
        for _ in range(args.repeat):
            for name in CONTENDERS:
                runs[name].append(_measure(name, response, request))
        results = {name: _best(found) for name, found in runs.items()}
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    speed = {name: body / MB / r["elapsed"] for name, r in results.items()}
    for name, r in results.items():
        extra = ""
        if name.startswith("drimlab"):
            extra = (
                f"  verdict {r['verdict']}, error rules {r['error_rules'] or 'none'}, "
                f"pixels decoded in {r['decoded']} parts"
            )
        print(
            f"{name:16} {speed[name]:8.1f} MB/s  {r['elapsed']:7.2f} s  "
            f"peak RSS {r['peak_rss_mb']:6.1f} MB  parts {r['parts']}{extra}"
        )
        if r["parts"] is not None and r["parts"] != count:
            print(f"  ! {name} saw {r['parts']} parts, expected {count}")
    print(
        f"ratios: drimlab / dicomweb-client = {speed['drimlab'] / speed['dicomweb-client']:.2f} "
        f"(target >= 3), drimlab / floor = {speed['drimlab'] / speed['floor']:.2f} "
        f"(target >= 0.80), drimlab / sha256-only = {speed['drimlab'] / speed['sha256-only']:.2f}"
    )
    print(
        f"pixel decoding: {speed['drimlab']:.1f} MB/s with, {speed['drimlab-no-pixels']:.1f} MB/s "
        f"without (with / without = {speed['drimlab'] / speed['drimlab-no-pixels']:.2f})"
    )


if __name__ == "__main__":
    main()
