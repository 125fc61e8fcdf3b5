"""Benchmark: retrieving one series over mutual TLS from the server simulator, three clients.

    python bench/retrieve.py --instances 300 --repeat 3 [--orthanc]

A synthetic CT series (`--instances` images of 512x512, Explicit VR Little Endian) is imported
into a fresh bench home; `drimlab serve` runs it in its own process (mutual TLS, DRIM-M mode,
bench PKI and whitelist). Three clients then fetch the same series, each in a child process,
interleaved `--repeat` times (the fastest run of each is kept):

  drimlab          `retrieve()`: the DRIM-M request, whitelist check of the source, on-the-fly
                   validation of every part (drim-m profile, completeness against the KOS),
                   exchange and report stored; parts discarded
  dicomweb-client  `DICOMwebClient.retrieve_series` over a requests session with the same
                   certificate (it decodes every part with pydicom, in memory)
  curl             a raw streaming read to /dev/null (`curl -o /dev/null`): the ceiling

All three ask for Explicit VR Little Endian only, so the source sends the same bytes to each.
Client and server share the machine's cores: the server's own cost is inside every figure.
Printed: MB/s of each and the ratios drimlab / dicomweb-client and drimlab / curl.
`--orthanc` then loads the same files into Orthanc (DICOMweb plugin) and runs the three
clients against it in plain HTTP (drimlab with `insecure_http`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ACCEPT_EVRLE = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1'


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(home: Path, instances: int, port: int) -> dict[str, Any]:
    """A bench home holding one synthetic series, its KOS for `port`, the PKI and whitelist."""
    from drimlab.config import Settings
    from drimlab.datasets.catalog import exam_series, kos_for_base
    from drimlab.datasets.importer import import_directory
    from drimlab.datasets.synthetic import ExamSpec, SeriesSpec, write_exam
    from drimlab.simulators.environment import BenchEnvironment
    from drimlab.store import open_store

    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    spec = ExamSpec(
        name="bench-retrieve",
        description="Retrieve benchmark",
        modality="CT",
        seed=7,
        series=(SeriesSpec("ct-axial", "Bench axial", "CHEST", instances, 512, 512),),
    )
    source = home.parent / "exam"
    write_exam(spec, source)
    imported = import_directory(store, settings, source, name="bench-retrieve")
    del imported
    shutil.rmtree(source)
    env = BenchEnvironment.prepare(store, settings)
    base = f"https://localhost:{port}/dicom-web"
    kos = kos_for_base(store, settings, "bench-retrieve", base)
    series = exam_series(store, "bench-retrieve")[0]
    size = sum(i.file("1.2.840.10008.1.2.1").size for i in series.instances)  # type: ignore[union-attr]
    facts = {
        "home": str(home),
        "base": base,
        "kos_path": str(kos.path),
        "kos_uid": kos.sop_instance_uid,
        "study": series.study_instance_uid,
        "series": series.series_instance_uid,
        "instances": len(series.instances),
        "bytes": size,
        "cert": str(env.pki.chain_path("consumer")),
        "key": str(env.pki.key_path("consumer")),
        "ca": str(env.pki.bundle_path),
    }
    store.close()
    return facts


def orthanc_facts(facts: dict[str, Any], workdir: Path) -> tuple[Any, dict[str, Any]]:
    """Start Orthanc, load the same series, build its KOS: facts for a plain-HTTP run."""
    import pydicom

    from drimlab.config import Settings
    from drimlab.datasets.catalog import exam_series
    from drimlab.datasets.kos_build import build_kos, write_kos
    from drimlab.store import open_store
    from drimlab.testing.orthanc import OrthancServer

    home = Path(facts["home"])
    store = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}"))
    series = exam_series(store, "bench-retrieve")[0]
    paths = [i.file("1.2.840.10008.1.2.1").path for i in series.instances]  # type: ignore[union-attr]
    store.close()
    server = OrthancServer(workdir / "orthanc").start()
    server.load(paths)
    kos = build_kos([pydicom.dcmread(p, stop_before_pixels=True) for p in paths], server.base_url)
    kos_path = workdir / "orthanc-kos.dcm"
    write_kos(kos, kos_path)
    plain = {
        **facts,
        "base": server.base_url,
        "kos_path": str(kos_path),
        "kos_uid": str(kos.SOPInstanceUID),
        "insecure": True,
    }
    return server, plain


def _token(home: Path) -> str:
    from drimlab.config import Settings
    from drimlab.tokens import TokenIssuer

    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    return TokenIssuer.open(settings).issue(lifetime=3600)


def run_drimlab(facts: dict[str, Any]) -> dict[str, Any]:
    from drimlab.config import Settings
    from drimlab.simulators.consumer import RetrieveOptions, retrieve
    from drimlab.store import open_store

    home = Path(facts["home"])
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
    store = open_store(settings)
    options = RetrieveOptions(
        kos_path=Path(facts["kos_path"]),
        accept=ACCEPT_EVRLE,
        insecure_http=facts.get("insecure", False),
    )
    started = time.perf_counter()
    result = retrieve(store, settings, options)
    elapsed = time.perf_counter() - started
    store.close()
    record = result.records[0]
    return {
        "seconds": elapsed,
        "verdict": result.verdict.value,
        "parts": len(record.report.parts),
        "ttfb": record.report.facts["timings"]["time_to_first_byte"],
    }


def run_dicomweb_client(facts: dict[str, Any]) -> dict[str, Any]:
    import requests
    from dicomweb_client.api import DICOMwebClient

    session = requests.Session()
    session.trust_env = False
    if not facts.get("insecure"):
        session.verify = facts["ca"]
        session.cert = (facts["cert"], facts["key"])
    headers = {
        "Authorization": f"Bearer {_token(Path(facts['home']))}",
        "KOS-SOPInstanceUID": facts["kos_uid"],
    }
    client = DICOMwebClient(facts["base"], session=session, headers=headers)
    started = time.perf_counter()
    instances = client.retrieve_series(
        facts["study"],
        facts["series"],
        media_types=(("application/dicom", "1.2.840.10008.1.2.1"),),
    )
    elapsed = time.perf_counter() - started
    session.close()
    return {"seconds": elapsed, "parts": len(instances)}


def run_curl(facts: dict[str, Any]) -> dict[str, Any]:
    url = f"{facts['base']}/studies/{facts['study']}/series/{facts['series']}"
    tls = (
        []
        if facts.get("insecure")
        else [
            "--cert",
            facts["cert"],
            "--key",
            facts["key"],
            "--cacert",
            facts["ca"],
        ]
    )
    command = [
        "curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download} %{time_starttransfer}",
        *tls,
        "-H", f"Accept: {ACCEPT_EVRLE}",
        "-H", f"Authorization: Bearer {_token(Path(facts['home']))}",
        "-H", f"KOS-SOPInstanceUID: {facts['kos_uid']}",
        url,
    ]  # fmt: skip
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - started
    size, ttfb = out.split()
    return {"seconds": elapsed, "body_bytes": int(size), "ttfb": float(ttfb)}


CONTENDERS = {"drimlab": run_drimlab, "dicomweb-client": run_dicomweb_client, "curl": run_curl}


def _child(which: str, facts_path: Path) -> None:
    facts = json.loads(facts_path.read_text())
    print(json.dumps(CONTENDERS[which](facts)))


def _measure(which: str, facts_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", which, str(facts_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"the server simulator did not listen on {port}")


def _compare(title: str, facts: dict[str, Any], facts_path: Path, repeat: int) -> None:
    print(f"== {title}")
    best: dict[str, dict[str, Any]] = {}
    for run in range(repeat):
        for which in CONTENDERS:
            result = _measure(which, facts_path)
            mbps = facts["bytes"] / result["seconds"] / 1e6
            print(f"run {run + 1} {which:<16} {mbps:8.1f} MB/s  {json.dumps(result)}")
            if which not in best or result["seconds"] < best[which]["seconds"]:
                best[which] = result
    speed = {k: facts["bytes"] / v["seconds"] / 1e6 for k, v in best.items()}
    print("best of each (MB/s of DICOM payload):")
    for which, value in speed.items():
        print(f"  {which:<16} {value:8.1f}")
    print(f"  drimlab / dicomweb-client  {speed['drimlab'] / speed['dicomweb-client']:.2f}")
    print(f"  drimlab / curl             {speed['drimlab'] / speed['curl']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--orthanc", action="store_true", help="Also measure against Orthanc.")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    work = Path(tempfile.mkdtemp(prefix="drimlab-bench-retrieve-"))
    port = _free_port()
    server = None
    try:
        started = time.perf_counter()
        facts = prepare(work / "home", args.instances, port)
        print(
            f"series: {facts['instances']} instances, {facts['bytes'] / 1e6:.1f} MB "
            f"(prepared in {time.perf_counter() - started:.1f} s)"
        )
        facts_path = work / "facts.json"
        facts_path.write_text(json.dumps(facts))
        env = {**os.environ, "DRIMLAB_HOME": facts["home"]}
        server = subprocess.Popen(
            ["drimlab", "serve", "--port", str(port), "--crl-port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(port)
        _compare("server simulator, mutual TLS", facts, facts_path, args.repeat)
        if args.orthanc:
            orthanc, plain = orthanc_facts(facts, work)
            try:
                plain_path = work / "orthanc-facts.json"
                plain_path.write_text(json.dumps(plain))
                _compare("Orthanc, plain HTTP", plain, plain_path, args.repeat)
            finally:
                orthanc.stop()
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
