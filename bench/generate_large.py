"""Generate the "large" synthetic dataset into a temporary home and measure it.

Prints the wall time of `generate_dataset` (write, pre-encode on two processes, KOS,
register), the instance count and the bytes stored per transfer syntax. Then, on a sample
of the generated Explicit VR Little Endian files, it times drimlab's encoder against DCMTK
(`dcmcrle`, `dcmcjpls`) measured in the same run, one file at a time on one core, and
prints the ratios. `--fraction 0.1` generates a tenth of each series (say so when quoting).

    python bench/generate_large.py [--fraction F] [--sample N]
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pydicom.uid import UID, ExplicitVRLittleEndian, JPEGLSLossless, RLELossless

from drimlab.cli.dataset import progress_bar
from drimlab.config import Settings
from drimlab.datasets import catalog
from drimlab.datasets.encodings import encode_file
from drimlab.datasets.synthetic import ExamSpec, dataset_specs
from drimlab.store import open_store

PEERS = {RLELossless: ["dcmcrle"], JPEGLSLossless: ["dcmcjpls", "+el"]}


def scaled(fraction: float) -> tuple[ExamSpec, ...]:
    """The large set's exams with each series cut to `fraction` of its instances."""
    specs = []
    for spec in dataset_specs("large"):
        series = tuple(
            dataclasses.replace(s, instances=max(1, round(s.instances * fraction)))
            for s in spec.series
        )
        specs.append(dataclasses.replace(spec, series=series))
    return tuple(specs)


def mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def peer_comparison(sources: list[Path], work: Path) -> None:
    """Time our encoder and DCMTK's on the same files, sequentially, and print ratios."""
    print(f"\nencoder vs DCMTK on {len(sources)} Explicit VR LE files (1 core each, same run)")
    for syntax, command in PEERS.items():
        if shutil.which(command[0]) is None:
            print(f"  {UID(syntax).keyword}: {command[0]} not installed, skipped")
            continue
        ours_dir, peer_dir = work / f"ours-{syntax}", work / f"peer-{syntax}"
        ours_dir.mkdir()
        peer_dir.mkdir()
        start = time.perf_counter()
        for index, source in enumerate(sources):
            encode_file(source, syntax, ours_dir / f"{index}.dcm")
        ours = time.perf_counter() - start
        start = time.perf_counter()
        for index, source in enumerate(sources):
            subprocess.run([*command, str(source), str(peer_dir / f"{index}.dcm")], check=True)
        peer = time.perf_counter() - start
        ours_size = sum(p.stat().st_size for p in ours_dir.iterdir())
        peer_size = sum(p.stat().st_size for p in peer_dir.iterdir())
        print(
            f"  {UID(syntax).keyword:<16} drimlab {ours:6.2f} s  {command[0]} {peer:6.2f} s"
            f"  time ratio {ours / peer:5.2f}  size ratio {ours_size / peer_size:5.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=1.0, help="share of each series")
    parser.add_argument("--sample", type=int, default=30, help="files for the peer comparison")
    args = parser.parse_args()
    if not 0 < args.fraction <= 1:
        parser.error("--fraction must be in (0, 1]")

    with tempfile.TemporaryDirectory(prefix="drimlab-bench-") as tmp:
        home = Path(tmp) / "home"
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'drimlab.db'}")
        store = open_store(settings)
        specs = scaled(args.fraction)
        phases: dict[str, list[float]] = {}
        start = time.perf_counter()
        with progress_bar() as bar:

            def progress(stage: str, done: int, total: int) -> None:
                now = time.perf_counter()
                phases.setdefault(stage, [now, now])[1] = now
                bar(stage, done, total)

            catalog.generate_dataset(store, settings, "large", specs=specs, progress=progress)
        elapsed = time.perf_counter() - start

        sizes: dict[str, int] = defaultdict(int)
        instances = 0
        explicit: list[Path] = []
        for exam in catalog.list_exams(store):
            for series in catalog.exam_series(store, exam.name):
                for instance in series.instances:
                    instances += 1
                    for stored in instance.files:
                        sizes[stored.transfer_syntax_uid] += stored.size
                        if stored.transfer_syntax_uid == ExplicitVRLittleEndian:
                            explicit.append(stored.path)
        print(f"large dataset, fraction {args.fraction:g}: {instances} instances")
        print(f"generate_dataset: {elapsed:.1f} s ({instances / elapsed:.1f} instances/s)")
        for stage, (first, last) in phases.items():
            print(f"  {stage:<28} {last - first:6.1f} s (from first to last progress report)")
        raw = sizes[ExplicitVRLittleEndian]
        for syntax, size in sorted(sizes.items()):
            print(f"  {UID(syntax).keyword:<22} {mib(size):>12}  {size / raw:6.3f} of raw")
        print(f"  {'total':<22} {mib(sum(sizes.values())):>12}")
        step = max(1, len(explicit) // args.sample)
        peer_comparison(explicit[::step][: args.sample], Path(tmp))
        store.close()


if __name__ == "__main__":
    main()
