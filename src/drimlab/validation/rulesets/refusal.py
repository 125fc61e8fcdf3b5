"""REFUSAL-NNN: the server simulator refused the request, and why.

When the simulated source refuses a request it records a `Decision` (status and cause); these
rules turn it into the error the report shows, naming the cause and what the consumer under
test must change. A refused request is never PASSED: ignoring the specific rule that observed
the fault (a TLS or DRIM rule) still leaves the refusal itself in the report. Each `Cause` but
SERVED belongs to exactly one rule here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from drimlab.facts.decision import Cause
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE, CheckFunction, Kind, Rule, declare
from drimlab.validation.subjects import DecisionSubject

DRIM_M = "DRIM-M (ANS, couloir imagerie): WADO-RS between DRIMBoxes"
PS318 = "PS3.18 §8.4 (status codes) and §10.4 (Retrieve transaction)"
STATUS = Location(path="status")
GET = "GET https://localhost:8443/dicom-web/studies/1.2.3/series/1.2.3.4"

#: What the consumer must change, for each cause.
ADVICE: dict[Cause, str] = {
    Cause.TOKEN_MISSING: "send `Authorization: Bearer <token>` with a token of the bench's "
    "issuer (`drimlab token issue`)",
    Cause.TOKEN_MALFORMED: "send a JWT signed by the bench's issuer (`drimlab token issue`), "
    "whole and unaltered",
    Cause.TOKEN_EXPIRED: "get a fresh token before each retrieval (`drimlab token issue`)",
    Cause.TOKEN_NOT_YET_VALID: "check the clock of the consumer and of its token issuer",
    Cause.TOKEN_UNKNOWN_KEY: "take tokens from the bench's issuer (`drimlab token issue`, JWKS at "
    "/.well-known/jwks.json), or start the simulator with `--jwks` naming your issuer's JWKS; "
    "a token of another data home or issuer is signed with a key the bench does not know",
    Cause.TOKEN_BAD_SIGNATURE: "send the token exactly as the issuer signed it",
    Cause.TOKEN_WRONG_ISSUER: "take the token from the issuer the simulator trusts (`--issuer`)",
    Cause.TOKEN_WRONG_AUDIENCE: "ask the issuer for a token for this source",
    Cause.KOS_HEADER_MISSING: "send `KOS-SOPInstanceUID: <SOP Instance UID of the KOS>` through "
    "which the exam was found",
    Cause.KOS_UNKNOWN: "name the KOS of this exam as the bench published it (`drimlab dataset "
    "show EXAM` gives its SOPInstanceUID)",
    Cause.KOS_OTHER_STUDY: "name the KOS of the requested study, not the KOS of another exam",
    Cause.CERTIFICATE_REVOKED: "present a certificate that is not revoked",
    Cause.CERTIFICATE_REVOCATION_UNKNOWN: "refresh the CRL the bench checks (`drimlab pki crl`)",
    Cause.CERTIFICATE_NOT_LISTED: "present a certificate whose DN is on the bench's whitelist "
    "(the bench's consumer certificate, or add yours with `drimlab whitelist make`)",
    Cause.CERTIFICATE_REFUSED: "present a valid certificate of the bench's PKI",
    Cause.METHOD_NOT_ALLOWED: "retrieve with GET",
    Cause.TARGET_MALFORMED: "build the URL from the KOS Retrieve URL: "
    "{base}/studies/{study}/series/{series}[/instances/{instance}]",
    Cause.UID_MALFORMED: "send the UIDs exactly as the KOS gives them (digits and dots, at most "
    "64 characters)",
    Cause.STUDY_UNKNOWN: "retrieve a study the KOS references",
    Cause.SERIES_UNKNOWN: "retrieve a series the KOS references, under its own study",
    Cause.INSTANCE_UNKNOWN: "retrieve an instance the KOS references, under its own series",
    Cause.FRAME_UNKNOWN: "ask for frame numbers between 1 and the instance's NumberOfFrames",
    Cause.RESOURCE_UNAVAILABLE: "ask for a media type the source can render for this object",
    Cause.ACCEPT_UNUSABLE: "send an Accept header with at least one valid media range",
    Cause.NOT_ACCEPTABLE: "accept at least Explicit VR Little Endian (1.2.840.10008.1.2.1), "
    "the default every source holds",
    Cause.FRAME_LIST_INVALID: "list each frame once, in a list no longer than the source's "
    "limit (PS3.18 §10.4.1.1.4: a comma-separated list of non-duplicate frame numbers)",
    Cause.REQUEST_UNPARSABLE: "send an HTTP/1.1 request the source can parse: request line "
    "`GET /path HTTP/1.1`, `Name: value` header lines of visible ASCII, CRLF line ends",
    Cause.OUTSIDE_SERVICE: "send WADO-RS requests under the base URL the KOS Retrieve URL "
    "gives: {base}/studies/...",
    Cause.HEADER_TIMEOUT: "send the whole request head (request line and headers) at once, "
    "within the source's header timeout",
    Cause.CONNECTION_LIMIT: "open fewer connections at once and reuse them (keep-alive); the "
    "source caps the connections of one address",
    Cause.QUOTA_EXCEEDED: "the organisation of the client certificate has reached its storage "
    "quota on this bench: ask the bench's administrator to raise it (`drimlab admin set-quota`) "
    "or wait for the purge of old exchanges, then retry after the Retry-After delay",
    Cause.STORE_UNAVAILABLE: "nothing to change on the consumer's side: the bench could not "
    "write its evidence store (disk full, database down); retry once it is back",
    Cause.SHUTTING_DOWN: "nothing to change on the consumer's side: the bench was stopping; "
    "retry once it is restarted",
    Cause.INTERRUPTED: "nothing to change on the consumer's side: the bench was stopped "
    "before its answer was complete (the exchange was recovered from its journal); run it again",
    Cause.INTERNAL_ERROR: "nothing to change on the consumer's side: the bench failed while "
    "answering (see its log); report it to the bench's maintainers",
}


def _refusal(code: str, causes: frozenset[Cause]) -> CheckFunction:
    def check(subject: DecisionSubject) -> Iterator[Finding]:
        decision = subject.decision
        if decision.cause not in causes:
            return
        advice = ADVICE.get(decision.cause, "")
        detail = decision.detail or decision.cause.value
        answered = f"with {decision.status}" if decision.status else "before answering"
        yield CATALOGUE[code].finding(
            f"the server simulator refused the request {answered} "
            f"({decision.cause.value}): {detail}" + (f"; {advice}" if advice else ""),
            STATUS,
            expected="200",
            actual=str(decision.status) if decision.status else "no complete answer",
        )

    return check


def _rule(code: str, name: str, summary: str, causes: frozenset[Cause], **doc: Any) -> Rule:
    rule = declare(
        code,
        name,
        Severity.ERROR,
        summary,
        subject=Kind.DECISION,
        check=_refusal(code, causes),
        **doc,
    )
    CAUSES[code] = causes
    return rule


#: The causes each rule reports (every cause but SERVED exactly once; a test checks it).
CAUSES: dict[str, frozenset[Cause]] = {}

TOKEN = _rule(
    "REFUSAL-001",
    "refused-bearer-token",
    "The source refused the bearer token (401)",
    frozenset(
        {
            Cause.TOKEN_MISSING,
            Cause.TOKEN_MALFORMED,
            Cause.TOKEN_EXPIRED,
            Cause.TOKEN_NOT_YET_VALID,
            Cause.TOKEN_UNKNOWN_KEY,
            Cause.TOKEN_BAD_SIGNATURE,
            Cause.TOKEN_WRONG_ISSUER,
            Cause.TOKEN_WRONG_AUDIENCE,
        }
    ),
    what="The server simulator answered 401 because the request's bearer token was missing, "
    "not a JWT, expired, signed by a key its issuer's JWKS does not hold, badly signed, or "
    "from another issuer or audience. The message names which.",
    why="A DRIM-M source introspects the Pro Santé Connect token of every request; a consumer "
    "whose tokens are refused gets no image. An offline validator cannot see most of these "
    "causes (only the source holds the issuer's keys): the source's decision is the evidence.",
    bad=f"{GET}\nAuthorization: Bearer <token of another data home's issuer>\n-> 401",
    good=f"{GET}\nAuthorization: Bearer $(drimlab token issue)\n-> 200",
    references=(DRIM_M, "RFC 6750 §3.1", "RFC 7662 (token introspection)"),
)
KOS = _rule(
    "REFUSAL-002",
    "refused-kos-header",
    "The source refused the KOS-SOPInstanceUID (400 missing, 404 unknown or of another study)",
    frozenset({Cause.KOS_HEADER_MISSING, Cause.KOS_UNKNOWN, Cause.KOS_OTHER_STUDY}),
    what="The server simulator answered 400 because the request had no KOS-SOPInstanceUID, or "
    "404 because the KOS it names is not one the source published, or is the KOS of another "
    "study.",
    why="The KOS is the consumer's proof that it found the exam through the patient's record; "
    "the source serves an exam only to a consumer naming that exam's KOS.",
    bad=f"{GET}\nKOS-SOPInstanceUID: <KOS of another exam>\n-> 404",
    good=f"{GET}\nKOS-SOPInstanceUID: <SOP Instance UID of this exam's KOS>\n-> 200",
    references=(DRIM_M,),
)
CERTIFICATE = _rule(
    "REFUSAL-003",
    "refused-client-certificate",
    "The source refused the client certificate after the handshake (403)",
    frozenset(
        {
            Cause.CERTIFICATE_REVOKED,
            Cause.CERTIFICATE_REVOCATION_UNKNOWN,
            Cause.CERTIFICATE_NOT_LISTED,
            Cause.CERTIFICATE_REFUSED,
        }
    ),
    what="The TLS handshake completed, then the server simulator answered 403 because the "
    "client certificate is revoked, its revocation status is unknown, or its DN is not on the "
    "whitelist.",
    why="DRIM-M sources exchange only with listed, valid IGC-Santé certificates; the request "
    "was refused and no image was sent.",
    bad="A consumer presenting the PKI's `unlisted` certificate -> 403",
    good="A consumer presenting a certificate listed in the whitelist -> 200",
    references=(DRIM_M, "RFC 5280 §6.3", "DRIM-M whitelist (ListeBlancheDRIM-M)"),
)
UNKNOWN = _rule(
    "REFUSAL-004",
    "refused-unknown-resource",
    "The source does not hold what was asked (404), or cannot render it",
    frozenset(
        {
            Cause.STUDY_UNKNOWN,
            Cause.SERIES_UNKNOWN,
            Cause.INSTANCE_UNKNOWN,
            Cause.FRAME_UNKNOWN,
            Cause.RESOURCE_UNAVAILABLE,
        }
    ),
    what="The server simulator answered 404 (or 400 for a frame number out of range) because "
    "the study, series, instance or frame named by the URL is not in its catalogue at that "
    "place of the hierarchy.",
    why="A consumer builds its URLs from the KOS: a refusal means a URL was built wrongly (a "
    "series under the wrong study, an instance under the wrong series) or the KOS is not the "
    "source's.",
    bad="GET .../studies/S/series/<series of another study> -> 404",
    good="GET .../studies/S/series/<series the KOS lists for S> -> 200",
    references=(PS318, "PS3.18 §10.4.1 (resources)"),
)
MALFORMED = _rule(
    "REFUSAL-005",
    "refused-malformed-request",
    "The source refused a malformed request (400 head, target, UID or frame list; 404 outside "
    "the WADO-RS service; 405 method)",
    frozenset(
        {
            Cause.METHOD_NOT_ALLOWED,
            Cause.TARGET_MALFORMED,
            Cause.UID_MALFORMED,
            Cause.FRAME_LIST_INVALID,
            Cause.REQUEST_UNPARSABLE,
            Cause.OUTSIDE_SERVICE,
        }
    ),
    what="The server simulator answered 400 because the request head could not be parsed as "
    "HTTP/1.1, the target is not a WADO-RS resource, a UID is malformed or a frame list repeats "
    "a frame or is too long; 404 because the path is outside the WADO-RS service; or 405 "
    "because the method is not GET or HEAD.",
    why="The request could not be understood: nothing was retrieved.",
    bad="POST .../studies/1.2.03 -> 405; GET .../studies/1.2.03.abc -> 400; "
    "GET .../frames/1,1,1 -> 400; GET /admin -> 404",
    good="GET .../studies/1.2.3/series/1.2.3.4 -> 200",
    references=(PS318, "PS3.5 §9.1 (UIDs)", "PS3.18 §10.4.1.1.4 (frame list)", "RFC 9112 §2-5"),
)
NOT_ACCEPTABLE = _rule(
    "REFUSAL-006",
    "refused-not-acceptable",
    "The source has nothing the Accept header allows (406), or Accept is unusable (400)",
    frozenset({Cause.ACCEPT_UNUSABLE, Cause.NOT_ACCEPTABLE}),
    what="The server simulator answered 406 because none of the media types and transfer "
    "syntaxes the Accept header allows is one it can send, or 400 because the Accept header "
    "has no usable media range.",
    why="PS3.18 §8.7: a source answers only in a media type the client accepts; a consumer "
    "must accept at least the default transfer syntax to be sure of an answer.",
    bad='Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2'
    "\n-> 406",
    good='Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1',
    references=("PS3.18 §8.7 (Accept and media types)", PS318),
)

OVER_LIMIT = _rule(
    "REFUSAL-007",
    "refused-over-limit",
    "The consumer exceeded a limit of the source: header timeout (408), connections per "
    "address (503), its organisation's storage quota (503)",
    frozenset({Cause.HEADER_TIMEOUT, Cause.CONNECTION_LIMIT, Cause.QUOTA_EXCEEDED}),
    what="The server simulator cut a connection that did not deliver a whole request head "
    "within its header timeout (408), refused a connection beyond its cap of simultaneous "
    "connections from one address (503), or refused a WADO-RS request because the "
    "organisation its client certificate belongs to has reached its storage quota on a shared "
    "bench (503 with Retry-After, cause quota-exceeded; repeats are recorded as one exchange "
    "with their count per minute). The limits are documented in docs/server.md and "
    "docs/limits.md.",
    why="A source bounds what one peer may hold open, or one slow or greedy client would starve "
    "every other consumer (slowloris); a consumer must send its requests promptly and reuse "
    "its connections. A shared bench bounds what each organisation keeps, so that one vendor "
    "cannot fill the store every other vendor records its evidence in.",
    bad="A client sending one header byte per second; 200 connections opened at once; "
    "retrievals by a vendor whose quota of exchanges is reached",
    good="The whole head sent at once; a few keep-alive connections; old exchanges purged or "
    "the quota raised before the next test session",
    references=(
        "RFC 9112 §9.3 (persistence)",
        "RFC 9110 §15.5.9 (408)",
        "RFC 9110 §10.2.3 (Retry-After)",
        PS318,
    ),
)
BENCH_UNAVAILABLE = _rule(
    "REFUSAL-008",
    "refused-bench-unavailable",
    "The bench itself could not serve: store unwritable (503), stopping (503), stopped before "
    "its answer was complete, internal error (500)",
    frozenset(
        {Cause.STORE_UNAVAILABLE, Cause.SHUTTING_DOWN, Cause.INTERRUPTED, Cause.INTERNAL_ERROR}
    ),
    what="The server simulator refused the request for a reason of its own: it could not write "
    "its evidence store (a full disk, a database that is down) and refuses to serve what it "
    "cannot record, it was stopping, it was killed before its answer was complete (the "
    "exchange was recovered from its journal as incomplete), or it failed while answering.",
    why="Nothing was retrieved, so the exchange cannot pass; the message says the consumer is "
    "not at fault and the exchange should be run again once the bench is back.",
    bad="A retrieval while the bench's disk is full -> 503 store-unavailable",
    good="The same retrieval once the store can be written -> 200",
    references=(PS318,),
)


def causes_of(code: str) -> frozenset[Cause]:
    """The causes a REFUSAL rule reports (unknown code: empty)."""
    return CAUSES.get(code, frozenset())
