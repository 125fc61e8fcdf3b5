"""The probe battery's expectations, and the checks of the PROBE rules over its outcomes.

`EXPECTATIONS` says, for each probe (by id, in the order the battery runs), which statuses (or
`tls-refused`) it must get and which are tolerated; the rules declared in `rulesets/probe.py`
judge each `ProbeOutcome` against it. `probe_table` gives the report's table of probes, its
result column taken from the findings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from drimlab.dicomweb.media import parse_accept, transfer_syntax_weights
from drimlab.domain import LOSSLESS_FIRST, LOSSY_FIRST
from drimlab.exchange import Exchange, Purpose
from drimlab.facts.probe import BurstOutcome, ProbeBattery, ProbeOutcome, Transport
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE, CheckFunction, Rule
from drimlab.validation.subjects import NotApplicable

EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
TLS_REFUSED = Transport.TLS_REFUSED.value


@dataclass(frozen=True)
class Expectation:
    """What one probe must get: statuses (or `tls-refused`), and tolerated ones (warning)."""

    probe: str
    code: str
    label: str
    expected: frozenset[int | str]
    tolerated: frozenset[int | str] = frozenset()
    default_syntax_only: bool = False  # a 200 must be in Explicit VR Little Endian
    asked_syntax: str | None = None  # a 200 must be in this syntax, the only one asked

    @property
    def rule(self) -> Rule:
        return CATALOGUE[self.code]

    @property
    def shown(self) -> str:
        return _shown(self.expected)


def _shown(values: frozenset[int | str]) -> str:
    return " or ".join(sorted(str(v) for v in values))


NOT_FOUND: frozenset[int | str] = frozenset({404})
BAD_REQUEST: frozenset[int | str] = frozenset({400})
REFUSED: frozenset[int | str] = frozenset({TLS_REFUSED, 400, 401, 403})
SERVED: frozenset[int | str] = frozenset({200})
PARTIAL: frozenset[int | str] = frozenset({206})
SERVED_OR_NOT_ACCEPTABLE: frozenset[int | str] = frozenset({200, 406})
#: The probes whose Accept lists rank transfer syntaxes, and those showing what the source can.
Q_LISTS = ("lossless-first", "lossy-first")
Q_CAPABILITIES = ("lossless-preferred-only", "lossy-preferred-only")

#: The battery, in the order it runs: probe id -> what it must get.
EXPECTATIONS: dict[str, Expectation] = {
    e.probe: e
    for e in (
        Expectation("unknown-study", "PROBE-010", "unknown study", NOT_FOUND),
        Expectation("unknown-series", "PROBE-011", "unknown series", NOT_FOUND),
        Expectation("unknown-instance", "PROBE-012", "unknown instance", NOT_FOUND),
        Expectation(
            "instance-of-other-series", "PROBE-013", "instance of another series", NOT_FOUND
        ),
        Expectation("malformed-uid", "PROBE-014", "malformed UID", BAD_REQUEST),
        Expectation("overlong-uid", "PROBE-015", "over-long UID", BAD_REQUEST, NOT_FOUND),
        Expectation("wrong-level", "PROBE-016", "UIDs at the wrong level", NOT_FOUND, BAD_REQUEST),
        Expectation(
            "no-accept",
            "PROBE-020",
            "no Accept header",
            frozenset({200, 400, 406}),
            default_syntax_only=True,
        ),
        Expectation(
            "unsupported-transfer-syntax",
            "PROBE-021",
            "only an unsupported transfer syntax",
            frozenset({406}),
        ),
        Expectation("implicit-vr", "PROBE-022", "Implicit VR asked", frozenset({406}), BAD_REQUEST),
        Expectation("no-kos-header", "PROBE-030", "no KOS-SOPInstanceUID", BAD_REQUEST),
        Expectation("kos-of-other-exam", "PROBE-031", "KOS of another exam", NOT_FOUND),
        Expectation("no-token", "PROBE-032", "no token", frozenset({401})),
        Expectation("expired-token", "PROBE-033", "expired token", frozenset({401})),
        Expectation("forged-token", "PROBE-034", "badly signed token", frozenset({401})),
        Expectation("study-level", "PROBE-060", "study retrieve", SERVED, PARTIAL),
        Expectation("instance-level", "PROBE-061", "instance retrieve", SERVED, PARTIAL),
        Expectation("frames-level", "PROBE-062", "frames retrieve", SERVED, PARTIAL),
        Expectation("lossless-first", "PROBE-063", "lossless-first Accept list", SERVED, PARTIAL),
        Expectation("lossy-first", "PROBE-064", "lossy-first Accept list", SERVED, PARTIAL),
        Expectation(
            "lossless-preferred-only",
            "PROBE-066",
            "only the preferred lossless syntax asked",
            SERVED_OR_NOT_ACCEPTABLE,
            asked_syntax=LOSSLESS_FIRST[0][0],
        ),
        Expectation(
            "lossy-preferred-only",
            "PROBE-067",
            "only the preferred lossy syntax asked",
            SERVED_OR_NOT_ACCEPTABLE,
            asked_syntax=LOSSY_FIRST[0][0],
        ),
        Expectation(
            "expired-client-certificate", "PROBE-040", "expired client certificate", REFUSED
        ),
        Expectation(
            "revoked-client-certificate", "PROBE-041", "revoked client certificate", REFUSED
        ),
        Expectation(
            "rogue-client-certificate", "PROBE-042", "client certificate of a rogue CA", REFUSED
        ),
        Expectation(
            "unlisted-client-certificate",
            "PROBE-043",
            "client certificate not whitelisted",
            REFUSED,
        ),
        Expectation("tls-1-1", "PROBE-044", "TLS 1.1 offered", frozenset({TLS_REFUSED})),
    )
}
#: OpenSSL's reason when this client itself cannot offer the protocol a probe needs.
CANNOT_OFFER = "NO_PROTOCOLS_AVAILABLE"


def where(expectation: Expectation) -> Location:
    return Location(path=f"probe: {expectation.label}")


def _not_run(outcome: ProbeOutcome) -> bool:
    """The probe was not sent, or this client could not offer what it needed."""
    return outcome.transport is Transport.NOT_SENT or (
        outcome.transport is Transport.TLS_REFUSED and outcome.tls_reason == CANNOT_OFFER
    )


def probe_check(code: str) -> CheckFunction:
    def check(outcome: ProbeOutcome) -> Iterator[Finding]:
        expectation = EXPECTATIONS.get(outcome.probe)
        if expectation is None or expectation.code != code or _not_run(outcome):
            raise NotApplicable
        yield from _judge(expectation, outcome)

    return check


def _success_problem(expectation: Expectation, outcome: ProbeOutcome) -> str | None:
    wanted = EXPLICIT_VR_LE if expectation.default_syntax_only else expectation.asked_syntax
    if wanted is None or outcome.status != 200:
        return None
    syntaxes = set(outcome.part_transfer_syntaxes)
    if not syntaxes:
        return "200 without any part"
    if syntaxes != {wanted}:
        return f"200 with parts in {', '.join(sorted(s or '?' for s in syntaxes))}"
    return None


def _success_expected(expectation: Expectation) -> str:
    if expectation.default_syntax_only:
        return "200 in Explicit VR Little Endian, 400 or 406"
    return f"200 in {expectation.asked_syntax} or 406"


def _judge(expectation: Expectation, outcome: ProbeOutcome) -> Iterator[Finding]:
    actual = outcome.actual
    rule, at, label = expectation.rule, where(expectation), expectation.label
    if actual in expectation.expected:
        problem = _success_problem(expectation, outcome)
        if problem is not None:
            yield rule.finding(
                f"{label}: {problem}",
                at,
                expected=_success_expected(expectation),
                actual=problem,
            )
        return
    if actual in expectation.tolerated:
        yield rule.finding(
            f"{label}: answered {actual}, tolerated (expected {expectation.shown})",
            at,
            expected=expectation.shown,
            actual=str(actual),
            severity=Severity.WARNING,
        )
        return
    yield rule.finding(
        f"{label}: expected {expectation.shown}, got {actual}",
        at,
        expected=expectation.shown,
        actual=str(actual),
    )


def probe_not_applicable(outcome: ProbeOutcome) -> Iterator[Finding]:
    expectation = EXPECTATIONS.get(outcome.probe)
    if expectation is None or not _not_run(outcome):
        raise NotApplicable
    if outcome.transport is Transport.NOT_SENT:
        yield CATALOGUE["PROBE-002"].finding(
            f"{expectation.label}: not applicable ({outcome.detail})", where(expectation)
        )
    elif _not_run(outcome):
        yield CATALOGUE["PROBE-002"].finding(
            f"{expectation.label}: this client's OpenSSL cannot offer what the probe needs "
            f"({outcome.tls_reason})",
            where(expectation),
        )


def no_response(exchange: Exchange) -> Iterator[Finding]:
    if not exchange.has_request or exchange.origin != "client":
        raise NotApplicable
    if exchange.has_response or exchange.transport_error is None:
        return
    yield CATALOGUE["PROBE-001"].finding(
        f"no HTTP response to {exchange.method} {exchange.target}: {exchange.transport_error}",
        Location(path="transport"),
    )


def not_served(exchange: Exchange) -> Iterator[Finding]:
    if exchange.purpose is not Purpose.RETRIEVE or exchange.status is None:
        raise NotApplicable
    status = exchange.status
    if status in (200, 206):
        return
    yield CATALOGUE["PROBE-003"].finding(
        f"the source answered {status} to a well-formed retrieval of {exchange.target}",
        Location(path="status"),
        expected="200",
        actual=str(status),
        severity=Severity.WARNING if status == 503 else None,
    )


def _served(outcome: ProbeOutcome | None) -> set[str]:
    if outcome is None or outcome.status != 200:
        return set()
    return {uid for uid in outcome.part_transfer_syntaxes if uid}


def q_weights_ignored(battery: ProbeBattery) -> Iterator[Finding]:
    """PROBE-065: a source that could send a syntax the list weighted higher, and did not."""
    lists = [o for o in map(battery.outcome, Q_LISTS) if o is not None and o.status == 200]
    if not lists:
        raise NotApplicable
    can = set().union(*(_served(o) for o in battery.outcomes if o.probe in Q_CAPABILITIES))
    can |= set().union(*(_served(o) for o in lists))
    rule = CATALOGUE["PROBE-065"]
    for outcome in lists:
        weights = transfer_syntax_weights(parse_accept(outcome.accept))
        label = EXPECTATIONS[outcome.probe].label
        for sent in sorted(_served(outcome)):
            better = [(c, weights.weight(c)) for c in sorted(can) if c != sent]
            better = [(c, q) for c, q in better if q > weights.weight(sent)]
            if better:
                best, q = max(better, key=lambda item: item[1])
                yield rule.finding(
                    f"{label}: the source sent {sent} (q={weights.weight(sent):g}) although it "
                    f"can send {best} (q={q:g}), which the list preferred: it ignores q",
                    Location(path="probe: q negotiation"),
                    expected=f"{best} (q={q:g})",
                    actual=f"{sent} (q={weights.weight(sent):g})",
                )


def burst_failed(burst: BurstOutcome) -> Iterator[Finding]:
    total = len(burst.attempts)
    if not total:
        raise NotApplicable
    at = Location(path="probe: burst")
    ok = [a for a in burst.attempts if a.status == 200 and a.complete]
    busy = [a for a in burst.attempts if a.status == 503]
    failed = [a for a in burst.attempts if a not in ok and a not in busy]
    rule = CATALOGUE["PROBE-050"]
    if failed:
        shown = ", ".join(
            sorted({str(a.status) if a.status else (a.error or "dropped") for a in failed})
        )
        yield rule.finding(
            f"{len(failed)} of {total} concurrent retrievals failed or were cut ({shown})",
            at,
            expected="200 with a complete body",
            actual=shown[:200],
        )
    if busy:
        yield rule.finding(
            f"{len(busy)} of {total} concurrent retrievals got 503",
            at,
            severity=Severity.WARNING,
            actual="503",
        )


def probe_table(
    outcomes: tuple[ProbeOutcome, ...], findings: Sequence[Finding]
) -> list[dict[str, object]]:
    """One row per probe for the report's facts: expected, actual, the result its rule gave."""
    rows: list[dict[str, object]] = []
    for outcome in outcomes:
        expectation = EXPECTATIONS[outcome.probe]
        row: dict[str, object] = {
            "probe": expectation.label,
            "rule": expectation.code,
            "expected": expectation.shown,
            "references": list(expectation.rule.references),
        }
        if _not_run(outcome):
            row.update(result="not applicable", why=outcome.detail or outcome.tls_reason)
            if outcome.transport is not Transport.NOT_SENT:
                row["actual"] = str(outcome.actual)
            rows.append(row)
            continue
        mine = [
            f
            for f in findings
            if f.rule == expectation.code and f.location.path == where(expectation).path
        ]
        worst = min(mine, key=lambda f: f.severity.rank) if mine else None
        row.update(
            actual=str(outcome.actual),
            result="passed" if worst is None else worst.severity.value,
            exchange_id=outcome.exchange_id,
        )
        rows.append(row)
    return rows
