"""WADO-RS body rules: how the response body is framed (Content-Length, chunked, content
coding) and whether it is a whole multipart body (RFC 9112 §6-7, RFC 2046 §5.1, PS3.18 §10.4.3).

They run only when the body was captured: a headers-only capture leaves them unchecked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from drimlab.dicomweb import transfer_syntax
from drimlab.dicomweb.media import transfer_syntax_weights
from drimlab.dicomweb.paths import Kind
from drimlab.validation.findings import Finding, Location, Severity, part_ranges
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.rulesets.response import BODY, success_only
from drimlab.validation.subjects import NotApplicable, ResponseSubject

ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


@CATALOGUE.rule(
    "WADO-RS-009",
    "content-length-mismatch",
    severity=ERROR,
    summary="Content-Length must match the body and not be combined with chunked coding",
    what="When Content-Length is present (and no Transfer-Encoding), the body has exactly "
    "that many bytes; a response never has both.",
    why="RFC 9112 §6.2–6.3: a wrong length truncates the body or corrupts the next "
    "response on the connection; both headers together are a smuggling risk.",
    bad="Content-Length: 5000\n(body of 4000 bytes)",
    good="Content-Length: 4000\n(body of 4000 bytes)",
    references=("RFC 9112 §6.2", "RFC 9112 §6.3"),
    subject="body",
)
def content_length_mismatch(response: ResponseSubject) -> Iterator[Finding]:
    body = response.require_body()
    declared = response.header("Content-Length")
    if declared is None:
        raise NotApplicable
    rule = CATALOGUE["WADO-RS-009"]
    where = Location(header="Content-Length")
    if response.header("Transfer-Encoding") is not None:
        yield rule.finding("both Content-Length and Transfer-Encoding are present", where)
        return
    if not declared.strip().isdigit():
        yield rule.finding(f"Content-Length {declared!r} is not a number", where)
    elif int(declared) != body.size:
        yield rule.finding(
            f"Content-Length says {declared} bytes, the body has {body.size}",
            where,
            expected=declared.strip(),
            actual=str(body.size),
        )


@CATALOGUE.rule(
    "WADO-RS-010",
    "chunked-coding-broken",
    severity=ERROR,
    summary="A chunked body must follow the chunked transfer coding",
    what="Every chunk has a hexadecimal size line, its data and CRLF, and the body ends "
    "with the zero-size last chunk.",
    why="RFC 9112 §7.1: broken chunking makes the consumer drop the connection or read "
    "garbage; a missing last chunk means the response was cut.",
    bad="Transfer-Encoding: chunked\n\n5\nhello\n(end of stream)",
    good="Transfer-Encoding: chunked\n\n5\nhello\n0\n\n",
    references=("RFC 9112 §7.1",),
    subject="body",
)
def chunked_coding_broken(response: ResponseSubject) -> Iterator[Finding]:
    body = response.require_body()
    for problem in body.transfer_problems:
        yield CATALOGUE["WADO-RS-010"].finding(problem, BODY)


@CATALOGUE.rule(
    "WADO-RS-013",
    "content-coding-unreadable",
    severity=ERROR,
    summary="A compressed body must decompress whole",
    what="When the response has `Content-Encoding: gzip` or `deflate`, the body decompresses "
    "without error up to its end marker. Another coding is reported (warning) and the "
    "parts are then not checked.",
    why="RFC 9110 §8.4: the consumer must undo the content coding before reading the "
    "parts; a corrupt or cut compressed stream loses every instance after the fault.",
    bad="Content-Encoding: gzip\n(body cut in the middle of the gzip stream)",
    good="Content-Encoding: gzip\n(a complete gzip stream of the multipart body)",
    references=("RFC 9110 §8.4", "RFC 1952"),
    subject="body",
)
def content_coding_unreadable(response: ResponseSubject) -> Iterator[Finding]:
    body = response.require_body()
    for problem in body.coding_problems:
        severity = WARNING if "not one the validator decodes" in problem else None
        yield CATALOGUE["WADO-RS-013"].finding(
            problem, Location(header="Content-Encoding"), severity=severity
        )


def _multipart_body(response: ResponseSubject) -> None:
    body = response.require_body()
    if not body.multipart:
        raise NotApplicable


@CATALOGUE.rule(
    "WADO-RS-020",
    "multipart-structure-broken",
    severity=ERROR,
    summary="The body must be a well-formed multipart body",
    what="The body contains the delimiter `--<boundary>`, each delimiter line ends with "
    "CRLF and nothing else, and each part's header block is well formed.",
    why="RFC 2046 §5.1.1: a consumer splits parts on exact delimiter lines; anything else "
    "loses parts or merges them.",
    bad="--b1 junk\r\nContent-Type: application/dicom\r\n\r\n...",
    good="--b1\r\nContent-Type: application/dicom\r\n\r\n...",
    references=("RFC 2046 §5.1.1",),
    subject="body",
)
def multipart_structure_broken(response: ResponseSubject) -> Iterator[Finding]:
    _multipart_body(response)
    body = response.require_body()
    for problem in body.problems:
        if "truncated" in problem:
            continue
        yield CATALOGUE["WADO-RS-020"].finding(problem, BODY)


@CATALOGUE.rule(
    "WADO-RS-021",
    "multipart-truncated",
    severity=ERROR,
    summary="The multipart body must end with the close delimiter",
    what="The body ends with `--<boundary>--`.",
    why="RFC 2046 §5.1.1: without the close delimiter the response was cut (connection "
    "lost, server crash) and the last part may be incomplete; PS3.18 expects every "
    "instance whole.",
    bad="--b1\r\n...part...\r\n(end of body)",
    good="--b1\r\n...part...\r\n--b1--\r\n",
    references=("RFC 2046 §5.1.1", "PS3.18 §8.7.3"),
    subject="body",
)
def multipart_truncated(response: ResponseSubject) -> Iterator[Finding]:
    _multipart_body(response)
    body = response.require_body()
    if not body.closed_properly and body.delimiter_found:
        incomplete = [p.index for p in body.parts if not p.complete]
        detail = f" (part {incomplete[0]} is incomplete)" if incomplete else ""
        yield CATALOGUE["WADO-RS-021"].finding(
            f"no close delimiter --{body.boundary}--{detail}", BODY
        )


@CATALOGUE.rule(
    "WADO-RS-022",
    "multipart-empty",
    severity=ERROR,
    summary="A successful retrieve must return at least one part",
    what="A 200 or 206 multipart body has at least one part.",
    why="PS3.18 §10.4.3: success means instances were returned; an empty answer should "
    "have been 404 (nothing found).",
    bad="--b1--\r\n",
    good="--b1\r\nContent-Type: application/dicom\r\n\r\n...\r\n--b1--\r\n",
    references=("PS3.18 §10.4.3",),
    subject="body",
)
def multipart_empty(response: ResponseSubject) -> Iterator[Finding]:
    success_only(response)
    _multipart_body(response)
    body = response.require_body()
    if not body.parts and body.closed_properly:
        yield CATALOGUE["WADO-RS-022"].finding("the multipart body holds no part", BODY)


@CATALOGUE.rule(
    "WADO-RS-023",
    "multipart-preamble-or-epilogue",
    severity=INFO,
    summary="Text before the first or after the last delimiter is ignored",
    what="The multipart body has no preamble before its first delimiter and no epilogue "
    "after the close delimiter (beyond its CRLF).",
    why="RFC 2046 §5.1.1 lets receivers ignore them; they are legal but waste bytes and "
    "sometimes hide a server bug (an error page before the parts).",
    bad="This is a preamble\r\n--b1\r\n...",
    good="--b1\r\n...",
    references=("RFC 2046 §5.1.1",),
    subject="body",
)
def multipart_preamble(response: ResponseSubject) -> Iterator[Finding]:
    _multipart_body(response)
    body = response.require_body()
    rule = CATALOGUE["WADO-RS-023"]
    if body.preamble_size:
        yield rule.finding(f"{body.preamble_size} bytes before the first delimiter", BODY)
    if body.epilogue_size > 2:
        yield rule.finding(f"{body.epilogue_size} bytes after the close delimiter", BODY)


@CATALOGUE.rule(
    "WADO-RS-024",
    "instance-duplicated",
    severity=ERROR,
    summary="Each instance is returned once",
    what="No two parts carry the same SOP Instance UID.",
    why="PS3.18 §10.4.3 returns the instances of the resource; a duplicate wastes bandwidth "
    "and a consumer storing by UID may overwrite or reject the exam.",
    bad="part 0 and part 3 are both SOP Instance 1.2.3.4.5.1",
    good="every part has its own SOP Instance UID",
    references=("PS3.18 §10.4.3",),
    subject="body",
)
def instance_duplicated(response: ResponseSubject) -> Iterator[Finding]:
    body = response.require_body()
    if not body.parts:
        raise NotApplicable
    counts = Counter(p.dicom.sop_instance_uid for p in body.parts if p.dicom.sop_instance_uid)
    for uid, count in sorted(counts.items()):
        if count > 1:
            indexes = [p.index for p in body.parts if p.dicom.sop_instance_uid == uid]
            yield CATALOGUE["WADO-RS-024"].finding(
                f"SOP Instance {uid} appears {count} times (parts {indexes})", BODY, actual=uid
            )


def _q(value: float) -> str:
    return f"{value:g}"


@CATALOGUE.rule(
    "WADO-RS-036",
    "transfer-syntax-not-preferred",
    severity=INFO,
    summary="The source should send the transfer syntax the request weighted highest",
    what="Each part's transfer syntax has the highest q the request's Accept gives among the "
    "syntaxes it names for application/dicom: no part comes in a syntax weighted below "
    "another one the request preferred. One finding per syntax served, naming its parts. "
    "A part in a syntax the request did not accept at all is WADO-RS-033's.",
    why="RFC 9110 §12.5.1 and PS3.18 §8.7 make q the client's preference: a DRIM-M consumer "
    "asks lossless first (or lossy first, for speed) and a source that ignores the weights "
    "sends what the viewer wanted least. A source may lack the preferred syntax (it cannot "
    "transcode to it), so this is info in dicomweb and a warning in drim-m; the probe "
    "battery tells a source that cannot from one that ignores q (PROBE-065).",
    bad="Accept: ...transfer-syntax=1.2.840.10008.1.2.4.70;q=0.9, "
    "...transfer-syntax=1.2.840.10008.1.2.1;q=0.4\n(parts in 1.2.840.10008.1.2.1, the source "
    "can send 4.70)",
    good="Accept: ...transfer-syntax=1.2.840.10008.1.2.4.70;q=0.9, ...;q=0.4\n"
    "(parts in 1.2.840.10008.1.2.4.70)",
    references=("RFC 9110 §12.5.1", "RFC 9110 §12.4.2", "PS3.18 §8.7.3.5"),
    subject="body",
)
def transfer_syntax_not_preferred(response: ResponseSubject) -> Iterator[Finding]:
    request = response.require_request()
    body = response.require_body()
    success_only(response)
    if request.resource is None or request.resource.kind is not Kind.INSTANCES:
        raise NotApplicable
    weights = transfer_syntax_weights(request.accept)
    served: dict[str, list[int]] = {}
    for part in body.parts:
        media = part.content_type
        if media is not None and media.essence != "application/dicom":
            continue
        uid = part.dicom.transfer_syntax_uid
        if uid:
            served.setdefault(uid, []).append(part.index)
    if not served or not weights.named:
        raise NotApplicable
    for uid, indexes in sorted(served.items()):
        better = weights.preferred_to(uid)
        if not better or weights.weight(uid) <= 0:  # not accepted at all: WADO-RS-033's
            continue
        shown = ", ".join(f"{transfer_syntax.name_of(b)} ({b}, q={_q(q)})" for b, q in better[:3])
        more = f" and {len(better) - 3} more" if len(better) > 3 else ""
        yield CATALOGUE["WADO-RS-036"].finding(
            f"{'part' if len(indexes) == 1 else 'parts'} {part_ranges(indexes)} in "
            f"{transfer_syntax.name_of(uid)} "
            f"(q={_q(weights.weight(uid))}) although the request preferred {shown}{more}",
            BODY,
            expected=f"{better[0][0]} (q={_q(better[0][1])})",
            actual=f"{uid} (q={_q(weights.weight(uid))})",
        )
