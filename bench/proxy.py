"""Benchmark: the recording proxy's throughput against a direct retrieval, in one run.

    python bench/proxy.py --instances 1000 --repeat 3 [--orthanc]

A synthetic CT series (`--instances` images of 512x512, Explicit VR Little Endian; 1,000 make
524 MB) is imported into a fresh bench home with `bench/retrieve.py`'s `prepare`. `drimlab
serve` serves it over mutual TLS in a child process, and `drimlab proxy` relays to it from
another: mutual TLS on both legs (the bench's source certificate towards the consumer, its
consumer certificate towards the source), both peers looked up in the whitelist and the CRL,
live validation on (drim-m, the KOS found in the catalogue). Each client then fetches the
series directly and through the proxy, interleaved `--repeat` times:

  curl     a raw streaming read to /dev/null: the consumer that asks most of the proxy
  drimlab  `retrieve()`, the client simulator validating every part: a validating consumer

Printed: MB/s direct and proxied (best and median of the runs) and their ratio, the proxy's
CPU time per MB relayed (a figure the machine's load does not change), its peak RSS (VmHWM)
after one single-instance exchange and after all the runs (flat when the relay holds no
body), and what the proxy's live view said of its exchanges (verdicts, and
whether the validation kept up: RELAY-007). `--orthanc` repeats the curl runs with Orthanc
behind nginx (mutual TLS) as the source.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import retrieve as retrieve_bench  # bench/retrieve.py: prepare(), run_curl(), the child runner
from serve_throughput import peak_rss_mb, wait_port

MB = 1e6


def _proxy_facts(facts: dict[str, Any], port: int) -> dict[str, Any]:
    """The same retrieval through the proxy: a KOS whose Retrieve URLs name the proxy."""
    from drimlab.config import Settings
    from drimlab.datasets.catalog import kos_for_base
    from drimlab.store import open_store

    home = Path(facts["home"])
    store = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}"))
    base = f"https://localhost:{port}/dicom-web"
    kos = kos_for_base(store, store.settings, "bench-retrieve", base)
    store.close()
    return {**facts, "base": base, "kos_path": str(kos.path), "kos_uid": kos.sop_instance_uid}


def _start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[Any]:
    with log.open("w") as out:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_port(port)
    return child


def _stop(child: subprocess.Popen[Any]) -> None:
    child.send_signal(signal.SIGINT)
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_instance(facts: dict[str, Any]) -> None:
    """A single-instance retrieve through the proxy (the memory baseline)."""
    from drimlab.documents.kos import read_kos

    kos = read_kos(Path(facts["kos_path"]))
    first = kos.series[0].instances[0].sop_instance_uid
    url = f"{facts['base']}/studies/{facts['study']}/series/{facts['series']}/instances/{first}"
    subprocess.run(
        ["curl", "-sS", "--fail", "-o", "/dev/null", "--cert", facts["cert"], "--key",
         facts["key"], "--cacert", facts["ca"], "-H", f"Accept: {retrieve_bench.ACCEPT_EVRLE}",
         "-H", f"Authorization: Bearer {retrieve_bench._token(Path(facts['home']))}",
         "-H", f"KOS-SOPInstanceUID: {facts['kos_uid']}", url],
        check=True,
    )  # fmt: skip


def _measure(client: str, facts: dict[str, Any], work: Path, name: str) -> float:
    """Seconds one retrieval of the series took (drimlab in its own child process)."""
    if client == "curl":
        result = retrieve_bench.run_curl(facts)
        if result["body_bytes"] < facts["bytes"]:
            raise SystemExit(f"curl got {result['body_bytes']} bytes of {facts['bytes']}")
        return float(result["seconds"])
    path = work / f"{name}.json"
    path.write_text(json.dumps(facts))
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"drimlab retrieve through {name} failed: {done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["verdict"] != "PASSED":
        raise SystemExit(f"drimlab retrieve through {name}: {result}")
    return float(result["seconds"])


def _child(facts_path: Path) -> None:
    """Run `retrieve()` once (in its own process) and print its time and verdict."""
    from drimlab.config import Settings
    from drimlab.simulators.consumer import RetrieveOptions, retrieve
    from drimlab.store import open_store

    facts = json.loads(facts_path.read_text())
    home = Path(facts["home"])
    store = open_store(Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}"))
    options = RetrieveOptions(kos_path=Path(facts["kos_path"]), accept=retrieve_bench.ACCEPT_EVRLE)
    started = time.perf_counter()
    result = retrieve(store, store.settings, options)
    elapsed = time.perf_counter() - started
    store.close()
    print(json.dumps({"seconds": elapsed, "verdict": result.verdict.value}))


def _compare(
    title: str,
    clients: list[str],
    routes: dict[str, dict[str, Any]],
    work: Path,
    *,
    repeat: int,
    between: Callable[[], None] = lambda: None,
) -> dict[str, dict[str, list[float]]]:
    """Interleaved runs of every client on every route: MB/s lists by client and route."""
    print(f"== {title}")
    rates: dict[str, dict[str, list[float]]] = {c: {r: [] for r in routes} for c in clients}
    for run in range(repeat):
        for client in clients:
            for route, facts in routes.items():
                seconds = _measure(client, facts, work, route)
                rate = facts["bytes"] / seconds / MB
                rates[client][route].append(rate)
                print(f"run {run + 1} {client:<8} {route:<8} {rate:8.1f} MB/s", flush=True)
                between()
    for client, by_route in rates.items():
        direct, proxied = by_route["direct"], by_route["proxied"]
        print(
            f"  {client:<8} direct best {max(direct):7.1f} median {statistics.median(direct):7.1f}"
            f" | proxied best {max(proxied):7.1f} median {statistics.median(proxied):7.1f}"
            f" | ratio best {max(proxied) / max(direct):.2f}"
            f" median {statistics.median(proxied) / statistics.median(direct):.2f}"
        )
    return rates


def _live_view(log: Path) -> None:
    """What the proxy's live view said: verdicts and the codes it showed."""
    lines = [line for line in log.read_text().splitlines() if " GET " in line]
    verdicts = Counter(line.split()[4] for line in lines if len(line.split()) > 4)
    codes = Counter(
        word.strip("()")
        for line in lines
        for word in line.split()[7:]
        if "-" in word and word.strip("()")[:1].isupper()
    )
    print(f"  proxy live view: {len(lines)} exchanges, verdicts {dict(verdicts)}")
    print(f"  codes shown: {dict(codes) or 'none'} (RELAY-007: the validation fell behind)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--orthanc", action="store_true", help="Also Orthanc behind nginx.")
    parser.add_argument("--validation-buffer", type=int, default=64, help="MiB (proxy option)")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return 0
    work = Path(tempfile.mkdtemp(prefix="drimlab-bench-proxy-"))
    try:
        return run(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    source_port, proxy_port = retrieve_bench._free_port(), retrieve_bench._free_port()
    started = time.perf_counter()
    facts = retrieve_bench.prepare(work / "home", args.instances, source_port)
    proxied = _proxy_facts(facts, proxy_port)
    print(
        f"series: {facts['instances']} instances, {facts['bytes'] / MB:.1f} MB "
        f"(prepared in {time.perf_counter() - started:.1f} s)"
    )
    env = {**os.environ, "DRIMLAB_HOME": facts["home"]}
    drimlab = str(Path(sys.executable).with_name("drimlab"))
    source = _start(
        [drimlab, "serve", "--port", str(source_port), "--crl-port", "0"],
        env, source_port, work / "serve.log",
    )  # fmt: skip
    log = work / "proxy.log"
    proxy_command = [
        drimlab, "proxy", "--upstream", f"https://localhost:{source_port}",
        "--port", str(proxy_port), "--validation-buffer", str(args.validation_buffer),
    ]  # fmt: skip
    proxy = _start(proxy_command, env, proxy_port, log)
    try:
        _one_instance(proxied)
        time.sleep(0.5)
        baseline = peak_rss_mb(proxy.pid)
        routes = {"direct": facts, "proxied": proxied}
        cpu = _cpu_seconds(proxy.pid)
        clients = ["curl", "drimlab"]
        _compare("server simulator (mutual TLS)", clients, routes, work, repeat=args.repeat)
        relayed = args.repeat * len(clients) * facts["bytes"] / MB
        print(
            f"  proxy CPU: {1000 * (_cpu_seconds(proxy.pid) - cpu) / relayed:.2f} ms per MB "
            "relayed (relay, live validation and store together; independent of the load)"
        )
        after = peak_rss_mb(proxy.pid)
        print(
            f"  proxy peak RSS: {baseline:.0f} MB after one instance, {after:.0f} MB after "
            f"{args.repeat * 2} series of {facts['bytes'] / MB:.0f} MB"
        )
    finally:
        _stop(proxy)
        _stop(source)
    _live_view(log)
    if args.orthanc:
        _orthanc(args, facts, work, env, drimlab)
    return 0


def _orthanc(
    args: argparse.Namespace, facts: dict[str, Any], work: Path, env: dict[str, str], drimlab: str
) -> None:
    """curl direct to nginx+Orthanc, and through the proxy relaying to nginx."""
    from drimlab.testing.nginx import MtlsProxy

    orthanc, plain = retrieve_bench.orthanc_facts(facts, work)
    try:
        with MtlsProxy(
            upstream=orthanc.url,
            ca_file=Path(facts["ca"]),
            cert_file=Path(facts["home"]) / "pki" / "certs" / "source.chain.pem",
            key_file=Path(facts["home"]) / "pki" / "private" / "source.key",
        ) as front:
            direct = {
                **plain,
                "insecure": False,
                "base": f"https://localhost:{front.port}/dicom-web",
            }
            port = retrieve_bench._free_port()
            log = work / "proxy-orthanc.log"
            proxy = _start(
                [drimlab, "proxy", "--upstream", f"https://localhost:{front.port}",
                 "--port", str(port), "--validation-buffer", str(args.validation_buffer)],
                env, port, log,
            )  # fmt: skip
            try:
                routes = {
                    "direct": direct,
                    "proxied": {**direct, "base": f"https://localhost:{port}/dicom-web"},
                }
                _compare(
                    "Orthanc behind nginx (mutual TLS)", ["curl"], routes, work, repeat=args.repeat
                )
                print(f"  proxy peak RSS: {peak_rss_mb(proxy.pid):.0f} MB")
            finally:
                _stop(proxy)
            _live_view(log)
    finally:
        orthanc.stop()


if __name__ == "__main__":
    sys.exit(main())
