"""RELAY-NNN: how an exchange the recording proxy relayed between two DRIMBoxes went.

The proxy (`drimlab proxy`) records what it saw of each exchange as `RelayFacts`
(`drimlab.facts.relay`): how it ended (relayed whole, or which side failed and how), a count
and a SHA-256 of each direction as received and as sent, and whether the live validation kept
up. The messages themselves are judged by the request, response and TLS rules; these rules
judge the transport around them, so a consumer or a source that drops an exchange is named,
with the cause, rather than leaving a report that is silently incomplete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from drimlab.exchange import Exchange
from drimlab.facts.relay import RelayEnd, RelayFacts
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE, Kind, Rule, declare
from drimlab.validation.subjects import NotApplicable

RFC9112_LENGTH = "RFC 9112 §6.3 (message body length)"
RFC9112_CLOSE = "RFC 9112 §9.6 (tear-down) and §8 (handling incomplete messages)"
RFC9110_GATEWAY = "RFC 9110 §15.6.3 (502 Bad Gateway) and §7.6 (message forwarding)"
RFC9112_MESSAGE = "RFC 9112 §2 (message format) and §3 (request line)"
DRIMM_WADO = "DRIM-M: WADO-RS retrieval between DRIMBoxes (DRIM-M_SO_REPONSE_WADO)"
TRANSPORT = Location(path="transport")
RELAY = Location(path="relay")
E, W = Severity.ERROR, Severity.WARNING


def _relay(exchange: Exchange) -> RelayFacts:
    if exchange.relay is None:
        raise NotApplicable
    return exchange.relay


def _ended(code: str, *ends: RelayEnd) -> Callable[[Exchange], Iterator[Finding]]:
    """A check that reports the relayed exchanges that ended in one of `ends`."""

    def check(exchange: Exchange) -> Iterator[Finding]:
        relay = _relay(exchange)
        if relay.ended not in ends:
            return
        answered = (
            f"; the proxy answered {relay.proxy_status} to the consumer"
            if relay.proxy_status is not None
            else ""
        )
        yield CATALOGUE[code].finding(
            f"{exchange.method or 'the request'} {exchange.target or ''}: "
            f"{relay.detail or relay.ended.value}{answered}",
            TRANSPORT,
            actual=relay.ended.value,
        )

    return check


def _rule(code: str, name: str, severity: Severity, summary: str, **doc: Any) -> Rule:
    return declare(code, name, severity, summary, subject=Kind.EXCHANGE, **doc)


def relay_not_byte_exact(exchange: Exchange) -> Iterator[Finding]:
    relay = _relay(exchange)
    if relay.ended is not RelayEnd.COMPLETE:
        raise NotApplicable  # a cut exchange cannot be relayed whole
    for direction, tally in (("request", relay.request), ("response", relay.response)):
        if not tally.identical:
            yield CATALOGUE["RELAY-006"].finding(
                f"the {direction} was not relayed byte for byte: received {tally.received_bytes} "
                f"bytes, sent {tally.sent_bytes}",
                Location(path=f"relay: {direction}"),
                expected=tally.received_sha256,
                actual=tally.sent_sha256,
            )


def validation_fell_behind(exchange: Exchange) -> Iterator[Finding]:
    relay = _relay(exchange)
    if relay.validation_behind_at is None:
        return
    yield CATALOGUE["RELAY-007"].finding(
        f"the live validation could not keep up with the relay: the response body was relayed "
        f"whole but not validated (it fell {relay.validation_budget} bytes behind at byte "
        f"{relay.validation_behind_at}); only the heads, the TLS facts and the transport "
        "were judged",
        RELAY,
        actual=str(relay.validation_behind_at),
    )


SOURCE_LOST = _rule(
    "RELAY-001",
    "source-connection-lost",
    E,
    "The source closed, reset or stalled the connection before its response was complete.",
    what="The proxy relayed a request to the source, which then closed or reset the connection "
    "(or sent nothing for longer than the proxy's timeout) before a complete response: no "
    "response head at all, a head cut short, or a body shorter than its Content-Length or "
    "its chunked framing announced. A body delimited by the close itself is not cut.",
    why="The consumer receives a truncated exam or nothing, and cannot tell a source fault from "
    "a network one; the proxy names the side that ended the exchange and when.",
    bad="Content-Length: 52428800, then the connection closes after 1 MiB of the body.",
    good="The whole body its framing announces (all of Content-Length, or the last chunk).",
    references=(RFC9112_LENGTH, RFC9112_CLOSE, DRIMM_WADO),
    check=_ended("RELAY-001", RelayEnd.SOURCE_CLOSED),
)
SOURCE_UNREACHABLE = _rule(
    "RELAY-002",
    "source-unreachable",
    E,
    "The proxy could not connect to the source.",
    what="The TCP connection to the configured source failed (refused, unreachable, timed out); "
    "the proxy answered the consumer 502 Bad Gateway itself.",
    why="Nothing about the source was tested; the report must say the source was not there, "
    "not that it answered badly.",
    bad="drimlab proxy --upstream https://localhost:9999 with nothing listening on 9999.",
    good="The source listens at the --upstream address and accepts the connection.",
    references=(RFC9110_GATEWAY,),
    check=_ended("RELAY-002", RelayEnd.SOURCE_UNREACHABLE),
)
SOURCE_NOT_HTTP = _rule(
    "RELAY-003",
    "source-response-not-http",
    E,
    "The source answered bytes that are not an HTTP response.",
    what="What the source sent after the request does not start with an HTTP/1.1 status line, "
    "or its head has no end within 1 MiB; the proxy cannot relay it as a response and "
    "answers the consumer 502 Bad Gateway.",
    why="A consumer cannot read such an answer at all; a gateway between them would refuse it "
    "the same way.",
    bad="\\x15\\x03\\x03\\x00\\x02\\x02\\x28 (a TLS alert on a plain connection), or "
    "'HTTP/1.1 200' followed by 2 MiB of headers.",
    good="HTTP/1.1 200 OK, its headers, a blank line, then the body.",
    references=(RFC9112_MESSAGE, RFC9110_GATEWAY),
    check=_ended("RELAY-003", RelayEnd.SOURCE_NOT_HTTP),
)
CONSUMER_DISCONNECTED = _rule(
    "RELAY-004",
    "consumer-disconnected",
    W,
    "The consumer closed the connection before the response was relayed whole.",
    what="The consumer closed or reset its connection while the proxy was still relaying the "
    "request or the source's response; the proxy then closed its connection to the source.",
    why="A consumer may abandon a retrieval (a user cancelled it), so this is a warning; a "
    "DRIMBox consumer that drops retrievals half-way, or times out on large series, never "
    "gets the whole exam.",
    bad="The consumer disconnects after 40 MB of a 500 MB series retrieve.",
    good="The consumer reads the response to its end before closing or reusing the connection.",
    references=(RFC9112_CLOSE, DRIMM_WADO),
    check=_ended("RELAY-004", RelayEnd.CONSUMER_CLOSED),
)
CONSUMER_NOT_HTTP = _rule(
    "RELAY-005",
    "consumer-request-not-http",
    E,
    "The consumer sent bytes that are not an HTTP request.",
    what="What the consumer sent on its TLS connection does not start with an HTTP/1.1 request "
    "line, or its head has no end within 1 MiB; the proxy answered 400 and closed.",
    why="No source can answer such a request; the proxy cannot even tell what was asked.",
    bad="A binary protocol, or an HTTP/2 preface, sent to the proxy's port.",
    good="GET /dicom-web/studies/1.2.3/series/4.5.6 HTTP/1.1, its headers and a blank line.",
    references=(RFC9112_MESSAGE,),
    check=_ended("RELAY-005", RelayEnd.CONSUMER_NOT_HTTP),
)
NOT_BYTE_EXACT = _rule(
    "RELAY-006",
    "relay-not-byte-exact",
    E,
    "The proxy did not forward exactly the bytes it received.",
    what="For a direction of an exchange relayed whole, the byte count or SHA-256 of what the "
    "proxy received on one side differs from what it sent on the other.",
    why="The proxy's evidence is worth something only if the two systems saw exactly what the "
    "other sent; any difference means the recording cannot be trusted.",
    bad="response received 10485760 bytes (sha256 9f2c...), sent 10485758 bytes (sha256 41d0...)",
    good="response received and sent 10485760 bytes, both sha256 9f2c...",
    references=(RFC9110_GATEWAY,),
    check=relay_not_byte_exact,
)
VALIDATION_BEHIND = _rule(
    "RELAY-007",
    "live-validation-fell-behind",
    W,
    "The live validation could not keep up with the relay: the body was not validated.",
    what="The proxy validates each response while it relays it, through a bounded buffer; when "
    "the validator falls that far behind, the proxy keeps relaying at full speed and stops "
    "feeding the validator, so the body's rules were not checked for this exchange.",
    why="The proxy must never slow or alter the exchange between the two systems; the report "
    "must say that its body was not checked rather than pass it silently.",
    bad="A 2 GB series relayed faster than it can be validated on a loaded machine.",
    good="A larger --validation-buffer or a less loaded machine; or validate the exchange "
    "directly with the client simulator (`drimlab retrieve`).",
    references=(DRIMM_WADO,),
    check=validation_fell_behind,
)
