"""The live view: one line per exchange, printed by `drimlab proxy` as exchanges are recorded.

    14:02:11 GET /dicom-web/studies/1.2/series/1.2.3 200 FAILED 157.9 MB 0.71 s WADO-RS-033 DRIM-022

Time the exchange started, method, target, status (`502*` when the proxy answered itself, `-`
when nothing came), verdict, bytes relayed to the consumer, time from the request to the end
of the response, then the codes of the rules that reported errors, then warnings in brackets.
"""

from __future__ import annotations

from datetime import datetime

from drimlab.proxy.recording import Recorded
from drimlab.validation.findings import Severity

SHOWN_CODES = 6


def _size(count: int) -> str:
    if count >= 1_000_000:
        return f"{count / 1e6:.1f} MB"
    if count >= 1_000:
        return f"{count / 1e3:.1f} kB"
    return f"{count} B"


def live_line(recorded: Recorded) -> str:
    """The one line of a recorded exchange."""
    exchange, report = recorded.exchange, recorded.report
    started = exchange.timings.get("started_at")
    when = datetime.fromtimestamp(started).strftime("%H:%M:%S") if started else "--:--:--"
    relay = exchange.relay
    if exchange.status is not None:
        status = str(exchange.status)
    elif relay is not None and relay.proxy_status is not None:
        status = f"{relay.proxy_status}*"
    else:
        status = "-"
    sent = relay.response.sent_bytes if relay is not None else 0
    seconds = exchange.timings.get("total", 0.0)
    what = f"{exchange.method} {exchange.target}" if exchange.method else exchange.subject
    verdict = report.verdict.value if report is not None else "NOT-VALIDATED"
    line = f"{when} {what} {status} {verdict} {_size(sent)} {seconds:.2f} s"
    if report is not None:
        errors = dict.fromkeys(f.rule for f in report.findings if f.severity is Severity.ERROR)
        warnings = dict.fromkeys(f.rule for f in report.findings if f.severity is Severity.WARNING)
        codes = list(errors)[:SHOWN_CODES]
        if codes:
            line += " " + " ".join(codes)
        shown = [c for c in warnings if c not in errors][:SHOWN_CODES]
        if shown:
            line += " (" + " ".join(shown) + ")"
    if recorded.failure:
        line += f" [{recorded.failure}]"
    return line
