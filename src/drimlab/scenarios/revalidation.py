"""The monitor's re-validation of a stored exchange, and how its findings differ from the
stored report's (rule by rule, severities compared on the rules both checked)."""

from __future__ import annotations

from collections import Counter

from drimlab.documents.kos import Kos
from drimlab.exchange import Exchange
from drimlab.validation.assess import selection_of_report
from drimlab.validation.engine import validate_exchange
from drimlab.validation.report import Report


def revalidate(exchange: Exchange, stored: Report, kos: Kos | None) -> Report | None:
    """The exchange judged again, by the same path and selection as the stored report."""
    if not exchange.has_request and not exchange.has_response and exchange.tls is None:
        return None  # nothing was captured: nothing to re-run
    return validate_exchange(exchange, selection_of_report(stored), kos=kos)


def disagreements(stored: Report, fresh: Report) -> list[str]:
    common = set(stored.rules_checked) & set(fresh.rules_checked)

    def counts(report: Report) -> Counter[tuple[str, str]]:
        return Counter((f.rule, f.severity.value) for f in report.findings if f.rule in common)

    before, after = counts(stored), counts(fresh)
    out = []
    for rule in sorted({r for r, _ in before | after}):
        was = sorted(s for (r, s), n in before.items() if r == rule for _ in range(n))
        now = sorted(s for (r, s), n in after.items() if r == rule for _ in range(n))
        if was != now:
            out.append(
                f"{rule} (stored: {', '.join(was) or 'none'}; now: {', '.join(now) or 'none'})"
            )
    return out
