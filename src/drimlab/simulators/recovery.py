"""Storing what stopped simulators left in their journals (`kill -9`, a crash, a full disk).

A journal nobody holds any more (`store.journal.leftover_journals`) says, for each request
its simulator received, whether its answer was completed (`end`) and whether the exchange
reached the store (`stored`). Recovery stores every exchange the store does not hold yet: an
ended one whole, judged as it would have been; one only begun as *incomplete*: its request as
received, with the decision `interrupted` (REFUSAL-008 reports it) and no response. The
journal is deleted once all it holds is in the store. `drimlab serve` and `drimlab start`
recover before they listen; `drimlab exchanges recover` does it on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from drimlab.exchange import Exchange
from drimlab.facts.decision import Cause, Decision
from drimlab.store import Store
from drimlab.store.journal import JournalEntry, journal_dir, leftover_journals, stored_ids
from drimlab.store.records import save_exchange_and_report
from drimlab.validation.report import Report

Judge = Callable[[Exchange], Report]


@dataclass(frozen=True)
class Recovery:
    """What a recovery found in the journals left behind."""

    journals: int = 0
    complete: int = 0  # exchanges whose answer was completed, stored now
    incomplete: int = 0  # requests whose answer never completed, stored as incomplete now
    already: int = 0  # exchanges the store already held
    unreadable: int = 0  # journal entries that could not be read back (skipped)

    @property
    def stored(self) -> int:
        return self.complete + self.incomplete

    def summary(self) -> str:
        if not self.journals:
            return "no journal left by a stopped simulator"
        text = (
            f"recovered {self.stored} exchange(s) from {self.journals} journal(s) left by a "
            f"stopped simulator: {self.complete} complete, {self.incomplete} incomplete "
            f"(interrupted before their answer was complete)"
        )
        if self.already:
            text += f"; {self.already} were already stored"
        if self.unreadable:
            text += f"; {self.unreadable} unreadable entr(ies) skipped"
        return text


def incomplete(exchange: Exchange, journal_name: str) -> Exchange:
    """A request whose answer never completed, as the store keeps it."""
    detail = (
        "the server simulator stopped (killed or crashed) before its answer to this request "
        f"was complete; recovered from its journal {journal_name}"
    )
    return replace(
        exchange,
        status=None,
        response_headers=(),
        decision=Decision(0, Cause.INTERRUPTED, detail),
        transport_error=detail,
        label=f"incomplete: {exchange.subject}",
    )


def _exchange(entry: JournalEntry, journal_name: str) -> Exchange | None:
    try:
        exchange = Exchange.from_dict(entry.exchange)
    except (KeyError, ValueError, TypeError):
        return None
    return exchange if entry.ended else incomplete(exchange, journal_name)


def recover_journals(store: Store, judge: Judge) -> Recovery:
    """Store what the journals of stopped simulators hold and the store lacks; delete them."""
    journals = complete = unfinished = already = unreadable = 0
    for path, entries in leftover_journals(journal_dir(store)):
        journals += 1
        known = stored_ids(store, [e.id for e in entries if not e.stored])
        for entry in entries:
            if entry.stored or entry.id in known:
                already += 1
                continue
            exchange = _exchange(entry, path.name)
            if exchange is None:
                unreadable += 1
                continue
            report = judge(exchange)
            kind = str(report.facts.get("kind", "request"))
            save_exchange_and_report(store, exchange, report, exchange_id=entry.id, kind=kind)
            if entry.ended:
                complete += 1
            else:
                unfinished += 1
        path.unlink(missing_ok=True)
    return Recovery(journals, complete, unfinished, already, unreadable)
