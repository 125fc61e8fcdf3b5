"""Benchmark: series-retrieval throughput of the server simulator vs Orthanc, in one run.

    python bench/serve_throughput.py --instances 350 --repeat 5

One CT series of `--instances` 512x512 instances (the recipe of the `large` dataset) is
generated into a temporary home and catalogued (with its pre-encodings), then served by:

  drimlab   `drimlab serve` in a child process: plain HTTP (`--insecure-http`) and mutual TLS
            (the bench PKI; curl presents the consumer certificate), DRIM-M mode (token and
            KOS header checked on every request)
  Orthanc   Debian's Orthanc + DICOMweb plugin loaded with the same files: plain HTTP, and
            behind nginx terminating mutual TLS with the same server certificate and CA

curl reads each series retrieve to /dev/null (Accept: Explicit VR Little Endian, what both
store); the best and the median of `--repeat` runs are kept. Printed: MB/s, ratios
drimlab / Orthanc, and each server's peak RSS (VmHWM) before and after the runs, to show
whether memory grows with the exam.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from drimlab.config import Settings
from drimlab.datasets.catalog import exam_series, generate_dataset, get_exam
from drimlab.datasets.synthetic import dataset_specs
from drimlab.simulators.environment import CONSUMER_CERT, SOURCE_CERT, BenchEnvironment
from drimlab.simulators.runner import free_port
from drimlab.store import open_store
from drimlab.testing.nginx import MtlsProxy
from drimlab.testing.orthanc import OrthancServer

MB = 1024 * 1024
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
ACCEPT = f'multipart/related; type="application/dicom"; transfer-syntax={EXPLICIT_VR_LE}'


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a running process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def curl_mbps(url: str, headers: list[str], tls: list[str], repeat: int) -> tuple[float, float]:
    """(best, median) MB/s of `repeat` curl reads of url to /dev/null, after one warm-up."""
    command = ["curl", "-s", "-f", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"]
    for header in headers:
        command += ["-H", header]
    command += [*tls, url]
    rates = []
    for attempt in range(repeat + 1):
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        size, seconds = out.split()
        if attempt:
            rates.append(int(size) / MB / float(seconds))
    return max(rates), statistics.median(rates)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=350, help="instances in the series")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="drimlab-bench-serve-"))
    try:
        return run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    """Generate, serve with both servers, measure, print."""
    home = work / "home"
    settings = Settings.from_env({"DRIMLAB_HOME": str(home)})
    store = open_store(settings)
    large = dataset_specs("large")[0]
    axial = next(s for s in large.series if s.instances > 1)
    spec = replace(large, name="bench-ct", series=(replace(axial, instances=args.instances),))
    started = time.monotonic()
    generate_dataset(store, settings, "bench", specs=[spec])
    env = BenchEnvironment.prepare(store, settings)
    series = exam_series(store, "bench-ct")[0]
    stored = [i.file(EXPLICIT_VR_LE) for i in series.instances]
    files = [f.path for f in stored if f is not None]
    size = sum(p.stat().st_size for p in files) / MB
    print(
        f"series of {len(files)} instances, {size:.0f} MB, ready in "
        f"{time.monotonic() - started:.0f} s"
    )
    exam = get_exam(store, "bench-ct")
    assert exam.kos is not None
    path = f"/studies/{exam.study_instance_uid}/series/{series.series_instance_uid}"
    drim_headers = [
        f"Accept: {ACCEPT}",
        f"KOS-SOPInstanceUID: {exam.kos.sop_instance_uid}",
        f"Authorization: Bearer {env.issuer.issue(lifetime=3 * 3600)}",
    ]
    client_tls = [
        "--cacert", str(env.pki.bundle_path),
        "--cert", str(env.pki.chain_path(CONSUMER_CERT)),
        "--key", str(env.pki.key_path(CONSUMER_CERT)),
    ]  # fmt: skip
    results: dict[str, tuple[float, float]] = {}
    memory: dict[str, tuple[float, float]] = {}
    child_env = {**os.environ, "DRIMLAB_HOME": str(home)}
    drimlab = str(Path(sys.executable).with_name("drimlab"))
    for mode in ("plain", "mtls"):
        port = free_port()
        command = [drimlab, "serve", "--port", str(port), "--crl-port", "0"]
        if mode == "plain":
            command.append("--insecure-http")
        server = subprocess.Popen(command, env=child_env, stdout=subprocess.DEVNULL)
        try:
            wait_port(port)
            before = peak_rss_mb(server.pid)
            scheme = "http" if mode == "plain" else "https"
            url = f"{scheme}://localhost:{port}/dicom-web{path}"
            results[f"drimlab {mode}"] = curl_mbps(
                url, drim_headers, client_tls if mode == "mtls" else [], args.repeat
            )
            memory[f"drimlab {mode}"] = (before, peak_rss_mb(server.pid))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(60)

    with OrthancServer() as orthanc:
        orthanc.load(files)
        before = peak_rss_mb(orthanc.pid)
        results["Orthanc plain"] = curl_mbps(
            f"{orthanc.base_url}{path}", [f"Accept: {ACCEPT}"], [], args.repeat
        )
        with MtlsProxy(
            upstream=orthanc.url,
            ca_file=env.pki.bundle_path,
            cert_file=env.pki.chain_path(SOURCE_CERT),
            key_file=env.pki.key_path(SOURCE_CERT),
        ) as proxy:
            url = proxy.url.replace("127.0.0.1", "localhost") + f"/dicom-web{path}"
            results["Orthanc mtls"] = curl_mbps(url, [f"Accept: {ACCEPT}"], client_tls, args.repeat)
        memory["Orthanc"] = (before, peak_rss_mb(orthanc.pid))
    store.close()

    print(f"\n{'server':<16}{'best MB/s':>12}{'median MB/s':>14}")
    for name, (best, median) in results.items():
        print(f"{name:<16}{best:>12.0f}{median:>14.0f}")
    for mode in ("plain", "mtls"):
        ours, theirs = results[f"drimlab {mode}"], results[f"Orthanc {mode}"]
        print(
            f"ratio drimlab / Orthanc, {mode}: best {ours[0] / theirs[0]:.2f}, "
            f"median {ours[1] / theirs[1]:.2f}"
        )
    print("\npeak RSS (MB) after start-up -> after the runs:")
    for name, (before, after) in memory.items():
        print(f"  {name:<16}{before:>8.0f} -> {after:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
