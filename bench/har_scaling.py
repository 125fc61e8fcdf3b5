"""Validating a HAR takes time linear in its entries: per-entry cost at N and at 8 N entries.

Writes two HAR files of small WADO-RS exchanges (a request and a one-part response each),
then times `load_har` and `validate_exchange` over every entry (no store), and prints the
per-entry time of each size and their ratio: about 1 means linear. It also times the same
files through `json.load` alone, the floor any HAR reader pays, measured in the same run.

    .venv/bin/python bench/har_scaling.py [--entries N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from drimlab.validation.engine import validate_exchange
from drimlab.validation.loaders import load_har


def _entry(index: int) -> dict[str, object]:
    return {
        "request": {
            "method": "GET",
            "url": f"https://source.test/dicom-web/studies/1.2.{index}/series/1.3.{index}",
            "headers": [{"name": "Accept", "value": 'multipart/related; type="application/dicom"'}],
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "headers": [{"name": "Content-Type", "value": "application/dicom"}],
            "content": {"text": "x" * 64},
        },
        "time": 12.5,
    }


def _write(folder: Path, count: int) -> Path:
    path = folder / f"capture-{count}.har"
    path.write_text(json.dumps({"log": {"entries": [_entry(i) for i in range(count)]}}))
    return path


def _time(path: Path) -> tuple[float, float]:
    started = time.perf_counter()
    with path.open("rb") as handle:
        json.load(handle)
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    for exchange in load_har(path):
        validate_exchange(exchange, "drim-m")
    return parsed, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=500, help="entries of the small file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        small, large = _write(Path(work), args.entries), _write(Path(work), 8 * args.entries)
        rows = [(args.entries, *_time(small)), (8 * args.entries, *_time(large))]
    for count, parsed, validated in rows:
        print(
            f"{count:>7} entries: json.load {parsed * 1e3:8.1f} ms, "
            f"validated {validated:7.2f} s = {validated / count * 1e3:6.2f} ms per entry"
        )
    ratio = (rows[1][2] / rows[1][0]) / (rows[0][2] / rows[0][0])
    print(f"per-entry time at 8x the entries / at 1x: {ratio:.2f} (1.00 is linear)")


if __name__ == "__main__":
    main()
