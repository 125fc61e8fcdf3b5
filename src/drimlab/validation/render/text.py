"""A Report as terminal text: verdict, counters, findings grouped by severity, parts.

Identical findings on several parts are shown once with the part ranges; a probe report also
shows its whole battery (each probe, expected, actual, result) and the burst's figures.

Colours are ANSI SGR sequences, written only when asked; untrusted text is escaped so a
hostile message cannot drive the terminal.
"""

from __future__ import annotations

from typing import Any

from drimlab.validation.findings import Severity
from drimlab.validation.render.outcomes import SEVERITY_ORDER, FindingGroup, grouped
from drimlab.validation.render.sanitize import one_line
from drimlab.validation.report import PartRecord, Report, Verdict

_SGR = {
    Verdict.PASSED.value: "1;32",
    Verdict.FAILED.value: "1;31",
    Verdict.UNDEFINED.value: "1;33",
    Severity.ERROR.value: "31",
    Severity.WARNING.value: "33",
    Severity.INFO.value: "36",
    "bold": "1",
    "dim": "2",
}
_HEADINGS = {Severity.ERROR: "Errors", Severity.WARNING: "Warnings", Severity.INFO: "Info"}
_LABELS = {Severity.ERROR: "ERROR", Severity.WARNING: "WARN ", Severity.INFO: "INFO "}
_VERDICT_NOTES = {
    Verdict.PASSED: "no error found",
    Verdict.FAILED: "at least one error",
    Verdict.UNDEFINED: "nothing could be checked",
}


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        if not self.color or not text:
            return text
        return f"\x1b[{_SGR[style]}m{text}\x1b[0m"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def render_text(report: Report, *, color: bool = False) -> str:
    """The report as text lines for a terminal (ANSI colours only when `color`)."""
    paint = _Painter(color)
    verdict = report.verdict
    counts = report.counters
    lines = [
        f"{paint(verdict.value, verdict.value)}  {one_line(report.subject)}"
        f"  {paint(f'({_VERDICT_NOTES[verdict]})', 'dim')}",
        f"profile {one_line(report.profile)}; validator {one_line(report.validator)}"
        + (f" {one_line(report.tool_version)}" if report.tool_version else "")
        + f"; {report.started_at.isoformat(timespec='seconds')}"
        + f" ({_duration(report)})",
        ", ".join(
            [
                paint(_plural(counts["error"], "error"), "error" if counts["error"] else "dim"),
                paint(
                    _plural(counts["warning"], "warning"),
                    "warning" if counts["warning"] else "dim",
                ),
                paint(f"{counts['info']} info", "info" if counts["info"] else "dim"),
                _plural(counts["rules_checked"], "rule") + " checked",
                _plural(counts["parts"], "part"),
            ]
        ),
    ]
    for severity in SEVERITY_ORDER:
        group = [f for f in report.findings if f.severity is severity]
        if group:
            lines.append("")
            lines.append(paint(f"{_HEADINGS[severity]} ({len(group)})", "bold"))
            for item in grouped(group):
                lines.extend(_finding_lines(item, paint))
    probes = report.facts.get("probes")
    if isinstance(probes, list) and probes:
        lines.append("")
        lines.append(paint(f"Probes ({len(probes)})", "bold"))
        lines.extend(_probe_table(probes))
    burst = report.facts.get("burst")
    if isinstance(burst, dict) and burst:
        lines.append("")
        lines.append(paint("Burst", "bold"))
        lines.extend(burst_lines(burst))
    if report.parts:
        lines.append("")
        lines.append(paint(f"Parts ({len(report.parts)})", "bold"))
        lines.extend(_part_table(report.parts))
    return "\n".join(lines) + "\n"


def _duration(report: Report) -> str:
    seconds = (report.finished_at - report.started_at).total_seconds()
    return f"{seconds:.3f} s"


def _finding_lines(finding: FindingGroup, paint: _Painter) -> list[str]:
    severity = finding.severity
    out = [
        f"  {paint(_LABELS[severity], severity.value)} {paint(one_line(finding.rule), 'bold')}"
        f"  {one_line(finding.location)}",
        f"        {one_line(finding.message)}",
    ]
    if finding.expected is not None:
        out.append(f"        expected: {one_line(finding.expected)}")
    if finding.actual is not None:
        out.append(f"        actual:   {one_line(finding.actual)}")
    if finding.references:
        refs = "; ".join(one_line(r) for r in finding.references)
        out.append(paint(f"        see: {refs}", "dim"))
    return out


def _part_table(parts: tuple[PartRecord, ...]) -> list[str]:
    header = ("#", "size", "sha256", "SOP Instance UID", "transfer syntax")
    rows = [
        (
            str(p.index),
            str(p.size),
            one_line(p.sha256[:12]),
            one_line(p.sop_instance_uid or "-"),
            one_line(p.transfer_syntax_uid or "-"),
        )
        for p in parts
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {0, 1}

    def fmt(row: tuple[str, ...]) -> str:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return ("  " + "  ".join(cells)).rstrip()

    return [fmt(header), *(fmt(r) for r in rows)]


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: tuple[str, ...]) -> str:
        return ("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))).rstrip()

    return [fmt(header), *(fmt(r) for r in rows)]


def _probe_table(probes: list[Any]) -> list[str]:
    rows = []
    for row in probes:
        if not isinstance(row, dict):
            continue
        result = str(row.get("result", ""))
        if result == "not applicable" and row.get("why"):
            result += f" ({row['why']})"
        rows.append(
            tuple(
                one_line(str(v))[:90]
                for v in (
                    row.get("rule", ""),
                    row.get("probe", ""),
                    row.get("expected", ""),
                    row.get("actual", "-"),
                    result,
                )
            )
        )
    return _table(("rule", "probe", "expected", "actual", "result"), rows)


def _ms(stats: Any, key: str) -> str:
    value = stats.get(key) if isinstance(stats, dict) else None
    return f"{value * 1000:.1f}" if isinstance(value, int | float) else "-"


def burst_lines(burst: dict[str, Any]) -> list[str]:
    """The burst's figures: counts, wall time, latency percentiles (ms)."""
    ttfb, total = burst.get("time_to_first_byte_seconds"), burst.get("total_seconds")
    return [
        f"  {burst.get('requests', 0)} retrievals over {burst.get('concurrency', '?')} "
        f"connections in {float(burst.get('wall_seconds') or 0):.2f} s: {burst.get('ok', 0)} ok, "
        f"{burst.get('busy', 0)} busy (503), {burst.get('failed', 0)} failed",
        "  time to first byte (ms)  "
        + "  ".join(f"{k} {_ms(ttfb, k)}" for k in ("p50", "p90", "p99", "max")),
        "  total time (ms)          "
        + "  ".join(f"{k} {_ms(total, k)}" for k in ("p50", "p90", "p99", "max")),
    ]
