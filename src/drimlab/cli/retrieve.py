"""`drimlab retrieve`, `probe` and `health`: drimlab plays the DRIMBox consumer against a source.

Exit status: 0 every report PASSED, 1 a report FAILED, 2 unusable input.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from drimlab.cli._common import console, err_console, fail, state
from drimlab.cli.reporting import (
    FormatOption,
    IgnoreOption,
    OutputOption,
    PixelSampleOption,
    ProfileOption,
    SelectOption,
    SeverityOption,
    check_format,
    emit,
    selection,
)
from drimlab.simulators.consumer import Level, RetrieveOptions, retrieve, run_probes
from drimlab.simulators.health import check_health
from drimlab.simulators.retrieval import ACCEPT_LISTS
from drimlab.validation.report import Verdict

KosOption = Annotated[
    Path | None, typer.Option("--kos", help="The exam's KOS (Part 10): UIDs and Retrieve URLs.")
]
BaseOption = Annotated[
    str | None, typer.Option("--base", help="WADO-RS base URL (everything before /studies).")
]
StudyOption = Annotated[str | None, typer.Option("--study", help="Study Instance UID.")]
SeriesOption = Annotated[
    list[str] | None, typer.Option("--series", help="Series Instance UID (repeatable).")
]
KosUidOption = Annotated[
    str | None, typer.Option("--kos-uid", help="SOP Instance UID sent as KOS-SOPInstanceUID.")
]
TokenOption = Annotated[
    str | None, typer.Option("--token", help="Bearer token (default: one from the bench issuer).")
]
CertOption = Annotated[
    Path | None, typer.Option("--cert", help="Client certificate chain (PEM).", dir_okay=False)
]
KeyOption = Annotated[Path | None, typer.Option("--key", help="Client key (PEM).", dir_okay=False)]
CaOption = Annotated[
    Path | None, typer.Option("--ca", help="CA bundle to trust (PEM).", dir_okay=False)
]
WhitelistOption = Annotated[
    Path | None, typer.Option("--whitelist", help="Whitelist to check the source against.")
]
NoWhitelistOption = Annotated[
    bool, typer.Option("--no-whitelist-check", help="Do not check the source's host and DN.")
]
InsecureOption = Annotated[
    bool, typer.Option("--insecure-http", help="Allow a plain http:// source (debugging only).")
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0, max=3600, help="Socket timeout in seconds.")
]


def _options(**values: Any) -> RetrieveOptions:
    check_format(values["fmt"])
    if values["level"] not in ("study", "series", "instance", "frames"):
        fail(f"unknown level {values['level']!r} (choose from study, series, instance, frames)")
    accept = values.get("accept")
    named = values.get("accept_list")
    if named is not None:
        if accept is not None:
            fail("--accept and --accept-list go separately")
        if named not in ACCEPT_LISTS:
            fail(f"unknown --accept-list {named!r} (choose from {', '.join(ACCEPT_LISTS)})")
        accept = ACCEPT_LISTS[named]
    try:
        frames = tuple(int(f) for f in (values.get("frames") or "1").split(","))
    except ValueError:
        fail(f"--frames {values.get('frames')!r}: give frame numbers such as 1 or 1,2,3")
    if values["timeout"] <= 0:
        fail("--timeout must be positive")
    return RetrieveOptions(
        base_url=values["base"],
        study=values["study"],
        series=tuple(values["series"] or ()),
        instance=values.get("instance"),
        kos_path=values["kos"],
        kos_uid=values["kos_uid"],
        level=values["level"],
        frames=frames,
        accept=accept,
        token=values["token"],
        cert=values["cert"],
        key=values["key"],
        ca=values["ca"],
        whitelist=values["whitelist"],
        check_whitelist=not values["no_whitelist_check"],
        insecure_http=values["insecure_http"],
        keep_dir=values.get("keep"),
        selection=selection(
            values["profile"],
            values["select"],
            values["ignore"],
            values["severity"],
            values.get("pixel_sample"),
        ),
        repeat=values.get("repeat", 1),
        concurrency=values.get("concurrency", 1),
        timeout=values["timeout"],
    )


@contextmanager
def _progress_bar() -> Iterator[Any]:
    """A Rich bar (parts, bytes, MB/s) on a terminal; nothing otherwise."""
    if not err_console.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("{task.fields[parts]} parts"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        task = bar.add_task("retrieve", total=None, parts=0)
        done = {"bytes": 0, "parts": 0, "base_bytes": 0, "base_parts": 0}

        def update(parts: int, size: int) -> None:
            # Counters restart at each request; keep a running total across requests.
            restarted = size < done["bytes"] - done["base_bytes"]
            if restarted or parts < done["parts"] - done["base_parts"]:
                done["base_bytes"], done["base_parts"] = done["bytes"], done["parts"]
            done["bytes"] = done["base_bytes"] + size
            done["parts"] = done["base_parts"] + parts
            bar.update(task, completed=done["bytes"], parts=done["parts"])

        yield update


def _performance_lines(facts: dict[str, Any]) -> list[str]:
    ttfb = facts["time_to_first_byte_seconds"]
    total = facts["total_seconds"]
    speed = facts["throughput_bytes_per_second"]
    return [
        f"performance: {facts['successful']}/{facts['retrievals']} retrievals served, "
        f"concurrency {facts['concurrency']}, {facts['wall_seconds']:.2f} s, "
        f"{facts['aggregate_bytes_per_second'] / 1e6:.1f} MB/s aggregate",
        "  time to first byte (ms)  "
        + "  ".join(f"{k} {ttfb[k] * 1000:.1f}" for k in ("p50", "p90", "p95", "p99", "max")),
        "  total time (ms)          "
        + "  ".join(f"{k} {total[k] * 1000:.1f}" for k in ("p50", "p90", "p95", "p99", "max")),
        "  throughput (MB/s)        "
        + "  ".join(f"{k} {speed[k] / 1e6:.1f}" for k in ("p50", "p90", "min")),
    ]


def register(app: typer.Typer) -> None:
    """Add `retrieve` and `probe` to the root app."""

    @app.command("retrieve")
    def retrieve_command(
        ctx: typer.Context,
        *,
        kos: KosOption = None,
        base: BaseOption = None,
        study: StudyOption = None,
        series: SeriesOption = None,
        instance: Annotated[
            str | None, typer.Option("--instance", help="SOP Instance UID (with one --series).")
        ] = None,
        kos_uid: KosUidOption = None,
        level: Annotated[
            str,
            typer.Option("--level", help="study, series (one request each), instance or frames."),
        ] = "series",
        frames: Annotated[
            str | None, typer.Option("--frames", help="Frame numbers at frames level (1).")
        ] = None,
        accept: Annotated[
            str | None, typer.Option("--accept", help="Accept header (default: DRIM-M list).")
        ] = None,
        accept_list: Annotated[
            str | None,
            typer.Option(
                "--accept-list", help="A named Accept list: lossless-first (default), lossy-first."
            ),
        ] = None,
        token: TokenOption = None,
        cert: CertOption = None,
        key: KeyOption = None,
        ca: CaOption = None,
        whitelist: WhitelistOption = None,
        no_whitelist_check: NoWhitelistOption = False,
        insecure_http: InsecureOption = False,
        keep: Annotated[
            Path | None, typer.Option("--keep", help="Keep the received parts in this folder.")
        ] = None,
        repeat: Annotated[
            int, typer.Option("--repeat", min=1, max=10000, help="Run the retrieval N times.")
        ] = 1,
        concurrency: Annotated[
            int,
            typer.Option("--concurrency", min=1, max=64, help="Retrievals in flight at once."),
        ] = 1,
        timeout: TimeoutOption = 60.0,
        profile: ProfileOption = "drim-m",
        select: SelectOption = None,
        ignore: IgnoreOption = None,
        severity: SeverityOption = None,
        pixel_sample: PixelSampleOption = None,
        fmt: FormatOption = "text",
        output: OutputOption = None,
    ) -> int:
        """Retrieve an exam from a DRIMBox source as a DRIM-M consumer; validate and keep it."""
        options = _options(**locals())
        cli = state(ctx)
        with _progress_bar() as progress:
            result = retrieve(cli.store, cli.settings, options, progress=progress)
        reports = [r.report for r in result.records]
        if result.performance is None:
            emit(reports, fmt, output, folder=False)
        else:
            failed = [r for r in reports if r.verdict is Verdict.FAILED]
            if failed:
                emit(failed[:1], fmt, output, folder=False)
            for line in _performance_lines(dict(result.performance)):
                console.print(line, markup=False)
        console.print(
            f"{result.verdict.value}: {len(result.records)} retrieval(s) stored", markup=False
        )
        raise typer.Exit(1 if result.verdict is Verdict.FAILED else 0)

    @app.command("probe")
    def probe_command(
        ctx: typer.Context,
        *,
        kos: KosOption = None,
        base: BaseOption = None,
        study: StudyOption = None,
        series: SeriesOption = None,
        kos_uid: KosUidOption = None,
        other_kos_uid: Annotated[
            str | None,
            typer.Option("--other-kos-uid", help="KOS SOP Instance UID of ANOTHER exam."),
        ] = None,
        token: TokenOption = None,
        cert: CertOption = None,
        key: KeyOption = None,
        ca: CaOption = None,
        whitelist: WhitelistOption = None,
        no_whitelist_check: NoWhitelistOption = False,
        insecure_http: InsecureOption = False,
        burst: Annotated[
            int,
            typer.Option(
                "--burst", min=0, max=1000, help="Concurrent retrievals in the burst (0: none)."
            ),
        ] = 20,
        concurrency: Annotated[
            int,
            typer.Option(
                "--concurrency", min=1, max=64, help="Connections the burst uses at once."
            ),
        ] = 8,
        timeout: TimeoutOption = 60.0,
        profile: ProfileOption = "drim-m",
        select: SelectOption = None,
        ignore: IgnoreOption = None,
        severity: SeverityOption = None,
        fmt: FormatOption = "text",
        output: OutputOption = None,
    ) -> int:
        """Send the battery of bad requests a conformant source must refuse; one report."""
        if burst < 0 or concurrency < 1:
            fail("--burst must be >= 0 and --concurrency >= 1")
        options = _options(level="series", **locals())
        cli = state(ctx)
        _, report = run_probes(
            cli.store,
            cli.settings,
            options,
            concurrency=concurrency,
            burst=burst,
            other_kos_uid=other_kos_uid,
        )
        emit([report], fmt, output)
        raise typer.Exit(1 if report.verdict is Verdict.FAILED else 0)

    @app.command("health")
    def health_command(
        ctx: typer.Context,
        url: Annotated[
            str | None,
            typer.Argument(help="The source's WADO-RS base URL (default: the KOS's base)."),
        ] = None,
        *,
        kos: KosOption = None,
        cert: CertOption = None,
        key: KeyOption = None,
        ca: CaOption = None,
        whitelist: WhitelistOption = None,
        no_whitelist_check: NoWhitelistOption = False,
        insecure_http: InsecureOption = False,
        timeout: TimeoutOption = 60.0,
        profile: ProfileOption = "drim-m",
        select: SelectOption = None,
        ignore: IgnoreOption = None,
        severity: SeverityOption = None,
        fmt: FormatOption = "text",
        output: OutputOption = None,
    ) -> int:
        """Send the ANS health check (GET {base}, Accept application/json); one report."""
        options = _options(
            base=url, study=None, series=None, kos_uid=None, token=None, level="series", **locals()
        )
        cli = state(ctx)
        record = check_health(cli.store, cli.settings, options)
        emit([record.report], fmt, output)
        raise typer.Exit(1 if record.report.verdict is Verdict.FAILED else 0)


__all__ = ["Level", "register"]
