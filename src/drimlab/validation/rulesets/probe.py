"""Probe rules: PROBE-NNN, how a source under test answers the bad requests a network sends.

The client simulator's probe battery (`drimlab probe`, `drimlab.simulators.probes`) sends each
probe of `validation.battery.EXPECTATIONS` and records its `ProbeOutcome`; the rules here
judge the outcomes against those expectations (the judgement calls are explained in docs/probes.md).
PROBE-001 and PROBE-003 judge any exchange of the client simulator (no response; a retrieval
not served), PROBE-050 the concurrent burst.
"""

from __future__ import annotations

from typing import Any

from drimlab.validation.battery import (
    burst_failed,
    no_response,
    not_served,
    probe_check,
    probe_not_applicable,
    q_weights_ignored,
)
from drimlab.validation.findings import Severity
from drimlab.validation.references import DRIMM_TRUST, RFC8996
from drimlab.validation.rules import CheckFunction, Kind, Rule, declare

PS318_STATUS = "PS3.18 §8.4 (status codes) and §10.4.3 (Retrieve responses)"
PS318_RESOURCES = "PS3.18 §10.4.1 (Retrieve resources)"
PS318_TS = "PS3.18 §8.7.3 (transfer syntax)"
PS318_ACCEPT = "PS3.18 §8.7 (Accept and media types)"
PS35_UID = "PS3.5 §9.1 (UID encoding rules)"
DRIMM_HEADERS = "DRIM-M: WADO-RS request headers KOS-SOPInstanceUID and Authorization (ANS samples)"
RFC6750 = "RFC 6750 §3.1 (invalid_token: 401)"


def _probe(
    code: str,
    name: str,
    summary: str,
    *,
    severity: Severity = Severity.ERROR,
    check: CheckFunction | None = None,
    subject: Kind = Kind.PROBE,
    **doc: Any,
) -> Rule:
    """A PROBE rule; by default it judges the outcome of the probe of the same code."""
    return declare(
        code, name, severity, summary, subject=subject, check=check or probe_check(code), **doc
    )


NO_RESPONSE = _probe(
    "PROBE-001",
    "no-http-response",
    "The source closed or reset the connection without an HTTP response",
    what="The connection ended (reset, closed, timed out) before a complete response head, "
    "outside a TLS refusal.",
    why="A consumer cannot tell a dropped connection from a network fault: it retries or shows "
    "a broken exam, and nothing says why.",
    bad="GET .../series/1.2.3 -> connection reset by peer",
    good="GET .../series/1.2.3 -> HTTP/1.1 404 Not Found",
    references=(PS318_STATUS,),
    check=no_response,
    subject=Kind.EXCHANGE,
)
NOT_APPLICABLE = _probe(
    "PROBE-002",
    "probe-not-applicable",
    "A probe could not run against this source (what it needs is absent)",
    what="A probe needs something the target lacks (TLS for certificate probes, a second KOS "
    "for the foreign-KOS probe, an instance of another series, a client able to offer TLS 1.1).",
    why="A probe that did not run must be visible: hiding it would make a report look more "
    "complete than it is.",
    bad="(a report silently missing the certificate probes of a plain-HTTP source)",
    good="PROBE-002 info: client-cert-expired not applicable: the source is plain HTTP",
    references=(DRIMM_TRUST,),
    severity=Severity.INFO,
    check=probe_not_applicable,
)
NOT_SERVED = _probe(
    "PROBE-003",
    "retrieval-not-served",
    "A well-formed DRIM-M retrieval must be answered 200 (206 with a Warning; 503 tolerated)",
    what="The client simulator sent a conformant retrieve (DRIM-M Accept list, valid token, "
    "the KOS of the exam) for a resource the KOS lists, and the source did not serve it.",
    why="DRIM-M_SO_REPONSE_WADO: the source must answer with exactly the images asked. 503 with "
    "Retry-After is a legitimate back-off (warning); any other status is a failure.",
    bad="GET .../series/A (A listed in the KOS) -> 404 Not Found",
    good="GET .../series/A -> 200 multipart/related with every instance of A",
    references=(PS318_STATUS, "DRIM-M scenario DRIM-M_SO_REPONSE_WADO"),
    check=not_served,
    subject=Kind.EXCHANGE,
)
UNKNOWN_STUDY = _probe(
    "PROBE-010",
    "unknown-study-not-404",
    "A retrieve of an unknown study must get 404",
    what="GET of a well-formed Study Instance UID the source does not hold.",
    why="404 tells the consumer the exam is not there (stop, tell the user); anything else "
    "looks like a server fault or, worse, a success.",
    bad="GET /studies/2.25.1234 -> 200 with an empty body, or 500",
    good="GET /studies/2.25.1234 -> 404 Not Found",
    references=(PS318_STATUS, PS318_RESOURCES),
)
UNKNOWN_SERIES = _probe(
    "PROBE-011",
    "unknown-series-not-404",
    "A retrieve of an unknown series of a known study must get 404",
    what="GET of the study of the KOS with a well-formed series UID it does not hold.",
    why="A source must not answer another series, or the whole study, for a series it lacks.",
    bad="GET /studies/S/series/2.25.99 -> 200 with the study's instances",
    good="GET /studies/S/series/2.25.99 -> 404 Not Found",
    references=(PS318_STATUS, PS318_RESOURCES),
)
UNKNOWN_INSTANCE = _probe(
    "PROBE-012",
    "unknown-instance-not-404",
    "A retrieve of an unknown instance of a known series must get 404",
    what="GET of a known study and series with a well-formed SOP Instance UID it does not hold.",
    why="The consumer must learn the instance is missing, not receive something else.",
    bad="GET .../instances/2.25.77 -> 200 with the first instance of the series",
    good="GET .../instances/2.25.77 -> 404 Not Found",
    references=(PS318_STATUS, PS318_RESOURCES),
)
FOREIGN_INSTANCE = _probe(
    "PROBE-013",
    "instance-of-other-series-not-404",
    "A SOP Instance UID requested under the wrong series must get 404",
    what="GET /studies/S/series/A/instances/I where I exists but belongs to series B.",
    why="A source that serves I anyway ignores the resource hierarchy; a consumer building "
    "a series from such answers mixes series.",
    bad="GET .../series/A/instances/I(of B) -> 200",
    good="GET .../series/A/instances/I(of B) -> 404 Not Found",
    references=(PS318_STATUS, PS318_RESOURCES),
)
MALFORMED_UID = _probe(
    "PROBE-014",
    "malformed-uid-not-400",
    "A retrieve with a malformed UID must get 400",
    what="GET with a series UID that breaks PS3.5 §9.1 (letters, leading zero).",
    why="400 says the request is wrong (fix the client), 404 that data is missing; a 5xx or "
    "a crash under junk input is a robustness fault.",
    bad="GET .../series/1.2.03.abc -> 500",
    good="GET .../series/1.2.03.abc -> 400 Bad Request",
    references=(PS318_STATUS, PS35_UID),
)
OVERLONG_UID = _probe(
    "PROBE-015",
    "overlong-uid-not-400",
    "A retrieve with a UID of more than 64 characters must get 400 (404 tolerated)",
    what="GET with a series UID of 129 digits-and-dots characters.",
    why="Over-long identifiers are a classic overflow and log-injection vector; the source "
    "must refuse them cleanly. 404 is tolerated (warning): it is refused, only less precisely.",
    bad="GET .../series/1.1.1...(129 chars) -> 500 or connection reset",
    good="GET .../series/1.1.1...(129 chars) -> 400 Bad Request",
    references=(PS318_STATUS, PS35_UID),
)
WRONG_LEVEL = _probe(
    "PROBE-016",
    "uid-at-wrong-level-served",
    "Study and series UIDs swapped in the path must be refused (404, or 400)",
    what="GET /studies/{series UID}/series/{study UID}: real UIDs at the wrong level.",
    why="A source that looks UIDs up without their level may serve the wrong object.",
    bad="GET /studies/SERIES/series/STUDY -> 200",
    good="GET /studies/SERIES/series/STUDY -> 404 Not Found",
    references=(PS318_STATUS, PS318_RESOURCES),
)
NO_ACCEPT = _probe(
    "PROBE-020",
    "no-accept-mishandled",
    "Without Accept: the default (Explicit VR Little Endian multipart) or 400/406",
    what="A series retrieve with no Accept header: the answer must be a conformant multipart "
    "response in the default transfer syntax, or a clean 400/406 refusal.",
    why="RFC 9110 §12.5.1 lets a client omit Accept (any type); PS3.18 fixes the default "
    "transfer syntax. A 5xx or a non-default syntax breaks simple consumers.",
    bad="GET .../series/A (no Accept) -> 500, or 200 in JPEG 2000",
    good="GET .../series/A (no Accept) -> 200 multipart, parts in 1.2.840.10008.1.2.1",
    references=(PS318_ACCEPT, PS318_TS, "RFC 9110 §12.5.1"),
)
UNSUPPORTED_SYNTAX = _probe(
    "PROBE-021",
    "unsupported-transfer-syntax-not-406",
    "Asking only for a transfer syntax the source cannot produce must get 406",
    what="A series retrieve whose Accept names only MPEG2 Main Profile video "
    "(1.2.840.10008.1.2.4.100), which a source cannot make from still images.",
    why="406 lets the consumer retry with another Accept; a 5xx reads as a broken server, "
    "a 200 in another syntax breaks the negotiation contract.",
    bad="-> 500 Internal Server Error, or 200 in Explicit VR Little Endian",
    good="-> 406 Not Acceptable",
    references=(PS318_ACCEPT, PS318_TS, PS318_STATUS),
)
IMPLICIT_VR = _probe(
    "PROBE-022",
    "implicit-vr-served",
    "Asking only for Implicit VR Little Endian must be refused (406, 400 tolerated)",
    what="A series retrieve whose Accept names only Implicit VR Little Endian (1.2.840.10008.1.2).",
    why="PS3.18 §8.7.3: web services shall not use Implicit VR Little Endian; serving it hands "
    "the consumer data it is not required to read.",
    bad="-> 200, parts in 1.2.840.10008.1.2",
    good="-> 406 Not Acceptable",
    references=(PS318_TS, PS318_ACCEPT),
)
KOS_MISSING = _probe(
    "PROBE-030",
    "served-without-kos-header",
    "A request without KOS-SOPInstanceUID must get 400",
    what="A series retrieve with a valid token and Accept but no KOS-SOPInstanceUID header.",
    why="DRIM-M: the KOS is the consumer's proof it was given access to this exam; a source "
    "that serves without it serves anyone holding a token.",
    bad="-> 200 with the series",
    good="-> 400 Bad Request (missing KOS-SOPInstanceUID)",
    references=(DRIMM_HEADERS,),
)
KOS_FOREIGN = _probe(
    "PROBE-031",
    "served-with-kos-of-other-exam",
    "A KOS-SOPInstanceUID of another exam must get 404",
    what="A series retrieve naming, in KOS-SOPInstanceUID, the KOS of a different study.",
    why="DRIM-M: the source checks that the KOS is a manifest of the requested study; otherwise "
    "access to one exam opens every exam.",
    bad="-> 200 with the series",
    good="-> 404 Not Found (KOS unknown for that study)",
    references=(DRIMM_HEADERS,),
)
TOKEN_MISSING = _probe(
    "PROBE-032",
    "served-without-token",
    "A request without Authorization must get 401",
    what="A series retrieve with no Authorization header.",
    why="DRIM-M: the source checks the Pro Santé Connect token of the requesting professional.",
    bad="-> 200 with the series",
    good="-> 401 Unauthorized, WWW-Authenticate: Bearer",
    references=(DRIMM_HEADERS, RFC6750),
)
TOKEN_EXPIRED = _probe(
    "PROBE-033",
    "served-with-expired-token",
    "A request with an expired token must get 401",
    what="A series retrieve whose bearer token expired an hour ago (signed by the right issuer).",
    why="An expired token must not open health data: the source checks `exp`.",
    bad="-> 200 with the series",
    good='-> 401 Unauthorized, WWW-Authenticate: Bearer error="invalid_token"',
    references=(DRIMM_HEADERS, RFC6750, "RFC 7519 §4.1.4"),
)
TOKEN_FORGED = _probe(
    "PROBE-034",
    "served-with-badly-signed-token",
    "A request with a token whose signature does not verify must get 401",
    what="A series retrieve whose bearer token has valid claims but a signature made with "
    "another key.",
    why="A source that does not verify signatures accepts forged tokens.",
    bad="-> 200 with the series",
    good='-> 401 Unauthorized, WWW-Authenticate: Bearer error="invalid_token"',
    references=(DRIMM_HEADERS, RFC6750, "RFC 7515 §5.2"),
)
_CERT_GOOD = "TLS handshake refused with an alert, or HTTP 400/401/403 without data"
CERT_EXPIRED = _probe(
    "PROBE-040",
    "served-to-expired-client-certificate",
    "A client presenting an expired certificate must be refused",
    what="The consumer presents the PKI's `expired` certificate (listed DN, genuine CA).",
    why="DRIM-M trust rests on valid IGC-Santé certificates; an expired one proves nothing.",
    bad="-> 200 with the series",
    good=_CERT_GOOD,
    references=(DRIMM_TRUST, "RFC 5280 §6.1.3"),
)
CERT_REVOKED = _probe(
    "PROBE-041",
    "served-to-revoked-client-certificate",
    "A client presenting a revoked certificate must be refused",
    what="The consumer presents the PKI's `revoked` certificate (on the CRL).",
    why="Revocation is how a compromised DRIMBox is cut off; a source must check the CRL.",
    bad="-> 200 with the series",
    good=_CERT_GOOD,
    references=(DRIMM_TRUST, "RFC 5280 §6.3"),
)
CERT_ROGUE = _probe(
    "PROBE-042",
    "served-to-rogue-client-certificate",
    "A client certificate from a look-alike CA must be refused",
    what="The consumer presents the PKI's `rogue` certificate: same names, other keys.",
    why="Only the genuine IGC-Santé hierarchy identifies a health organisation.",
    bad="-> 200 with the series",
    good=_CERT_GOOD,
    references=(DRIMM_TRUST, "RFC 5280 §6.1"),
)
CERT_UNLISTED = _probe(
    "PROBE-043",
    "served-to-unlisted-client",
    "A client whose certificate DN is not on the whitelist must be refused",
    what="The consumer presents the PKI's `unlisted` certificate: valid chain, DN not listed.",
    why="DRIM-M: a DRIMBox exchanges only with the DRIMBoxes of the signed whitelist.",
    bad="-> 200 with the series",
    good=_CERT_GOOD,
    references=(DRIMM_TRUST, "DRIM-M whitelist (ListeBlancheDRIM-M)"),
)
TLS11 = _probe(
    "PROBE-044",
    "tls-1-1-accepted",
    "A client offering only TLS 1.1 must be refused at the handshake",
    what="The consumer offers TLS 1.1 at most (with its genuine certificate).",
    why="TLS 1.0 and 1.1 are deprecated (RFC 8996); DRIM-M requires TLS 1.2 or later.",
    bad="handshake completes in TLSv1.1",
    good="handshake refused with a protocol_version alert",
    references=(DRIMM_TRUST, RFC8996),
)
_SERVED = "200 multipart/related with the instances asked (206 with a Warning: a warning)"
STUDY_LEVEL = _probe(
    "PROBE-060",
    "study-retrieve-not-served",
    "A Retrieve Study of the KOS's exam must be served",
    what="GET {base}/studies/{study} with the DRIM-M Accept list, token and KOS header.",
    why="The ANS dry run retrieves at study level too; a source that only routes series "
    "cannot be read by such a consumer.",
    bad="GET .../studies/S -> 404 or 405",
    good=_SERVED,
    references=(PS318_RESOURCES, "DRIM-M: ANS dry run, study-level request"),
)
INSTANCE_LEVEL = _probe(
    "PROBE-061",
    "instance-retrieve-not-served",
    "A Retrieve Instance of an image the KOS lists must be served",
    what="GET .../series/{series}/instances/{instance} of the first instance the KOS lists.",
    why="Consumers that fetch image by image (the ANS instance sample) need it.",
    bad="GET .../instances/I -> 404",
    good=_SERVED,
    references=(PS318_RESOURCES, "DRIM-M: ANS sample request-instance"),
)
FRAMES_LEVEL = _probe(
    "PROBE-062",
    "frames-retrieve-not-served",
    "A Retrieve Frames of an image the KOS lists must be served",
    what="GET .../instances/{instance}/frames/1 asking uncompressed frames "
    '(`multipart/related; type="application/octet-stream"`).',
    why="A viewer that streams frames (cine loops, large images) asks for them one by one; the "
    "ANS dry run sends a frames request.",
    bad="GET .../frames/1 -> 404",
    good='200 multipart/related; type="application/octet-stream" with the frame',
    references=(PS318_RESOURCES, "PS3.18 §10.4.1.1.4"),
)
LOSSLESS_FIRST_LIST = _probe(
    "PROBE-063",
    "lossless-first-list-not-served",
    "A series retrieve with the lossless-first Accept list must be served",
    what="The series retrieve with the ANS sample's list: JPEG Lossless, JPEG-LS, JPEG 2000 "
    "first, then lossy syntaxes, Explicit VR Little Endian last (q 0.9 down to 0.4).",
    why="A source must answer a consumer that ranks syntaxes; which syntax it picks is "
    "PROBE-065's to judge.",
    bad="-> 406 although Explicit VR Little Endian is in the list",
    good=_SERVED,
    references=(PS318_ACCEPT, "RFC 9110 §12.5.1"),
)
LOSSY_FIRST_LIST = _probe(
    "PROBE-064",
    "lossy-first-list-not-served",
    "A series retrieve with the lossy-first Accept list must be served",
    what="The series retrieve with baseline and extended JPEG first (q=1.0, a tie), JPEG 2000, "
    "lossless syntaxes after, Explicit VR Little Endian last: the ANS dry run's second order.",
    why="As PROBE-063, with the weights the other way round.",
    bad="-> 500 while picking a syntax it cannot transcode to",
    good=_SERVED,
    references=(PS318_ACCEPT, "RFC 9110 §12.5.1"),
)
Q_IGNORED = _probe(
    "PROBE-065",
    "q-weights-ignored",
    "The source must pick the transfer syntax the Accept list weighted highest",
    what="Across the battery: with the lossless-first and the lossy-first lists, each part is in "
    "the syntax of highest q among those the source showed it can send (in the other list's "
    "answer, or when asked one syntax alone: PROBE-066, PROBE-067).",
    why="q is the consumer's preference (RFC 9110 §12.5.1): lossless for diagnosis, lossy for "
    "speed. Orthanc ignores it (the last range it can serve wins); a DRIMBox built on it "
    "sends what the viewer wanted least. A warning: the images still arrive.",
    bad="lossless-first list -> parts in Explicit VR LE (q=0.4), although JPEG Lossless "
    "(q=0.9) is sent when asked alone",
    good="lossless-first list -> parts in JPEG Lossless (q=0.9)",
    references=(PS318_ACCEPT, "RFC 9110 §12.5.1", "PS3.18 §8.7.3.5"),
    severity=Severity.WARNING,
    check=q_weights_ignored,
    subject=Kind.BATTERY,
)
_ONLY = "200 in the syntax asked, or 406 when the source cannot send it"
LOSSLESS_ONLY = _probe(
    "PROBE-066",
    "preferred-lossless-syntax-mishandled",
    "Asked JPEG Lossless alone, the source sends it or answers 406",
    what="An instance retrieve whose Accept names only the top syntax of the lossless-first "
    "list (JPEG Lossless, 1.2.840.10008.1.2.4.70).",
    why="It shows whether the source can send that syntax (PROBE-065 uses it); a 500 or parts "
    "in another syntax are faults of their own.",
    bad="-> 500, or 200 with parts in Explicit VR Little Endian",
    good=_ONLY,
    references=(PS318_TS, PS318_STATUS),
)
LOSSY_ONLY = _probe(
    "PROBE-067",
    "preferred-lossy-syntax-mishandled",
    "Asked baseline JPEG alone, the source sends it or answers 406",
    what="An instance retrieve whose Accept names only the top syntax of the lossy-first list "
    "(JPEG Baseline, 1.2.840.10008.1.2.4.50).",
    why="As PROBE-066. Baseline JPEG holds 8 bits: a source with 12- or 16-bit images must "
    "answer 406 (Orthanc answers 500).",
    bad="-> 500 Internal Server Error",
    good=_ONLY,
    references=(PS318_TS, PS318_STATUS),
)
BURST = _probe(
    "PROBE-050",
    "burst-retrievals-failed",
    "Concurrent retrievals of a series must all succeed (503 with Retry-After tolerated)",
    what="A bounded burst of identical series retrievals sent by several connections at once; "
    "each must be a complete 200 response. Latency percentiles go into the report's facts.",
    why="Several physicians open the same exam at once; a source that fails or truncates "
    "under a small burst loses images. 503 with Retry-After is a legitimate back-off "
    "(warning).",
    bad="8 parallel GETs -> 3 connections reset, 1 truncated body",
    good="8 parallel GETs -> 8 x 200, complete multipart bodies",
    references=(PS318_STATUS, "DRIM-M performance categories: WADO-RS latency and throughput"),
    check=burst_failed,
    subject=Kind.BURST,
)
