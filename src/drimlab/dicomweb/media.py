"""Media types and the Accept header (RFC 9110 §8.3, §12.5.1; PS3.18 §8.7).

Parsing is lenient and records every deviation, so a validator can report it: a parameter
keeps whether it was quoted and whether its bare value was a valid token. An Accept element
written as parameters alone (`transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9`, a form the ANS
dry run uses) is read as a DICOM multipart range and marked `implied`. `choose` is the
negotiation a WADO-RS server runs: the best offer by q-value, then by the client's order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drimlab.dicomweb import transfer_syntax

TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
DICOM = "application/dicom"
MULTIPART_RELATED = "multipart/related"
#: What an Accept element written as bare parameters is read as (PS3.18's DICOM retrieve).
IMPLIED_RANGE = 'multipart/related; type="application/dicom"'


class MediaTypeError(ValueError):
    """A media type or media range that cannot be parsed at all."""


def is_token(text: str) -> bool:
    """True when `text` is an RFC 9110 token (may appear unquoted)."""
    return bool(TOKEN.match(text))


def quote_if_needed(value: str) -> str:
    """The value as a token when it is one, else as a quoted-string."""
    if is_token(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Parameter:
    """One `name=value` parameter as written: the name lowercased, the value unquoted."""

    name: str
    value: str
    quoted: bool

    @property
    def needs_quotes(self) -> bool:
        return not is_token(self.value)

    @property
    def badly_unquoted(self) -> bool:
        """An unquoted value that is not a token (e.g. `type=application/dicom`)."""
        return not self.quoted and self.needs_quotes


@dataclass(frozen=True)
class MediaType:
    """A media type or range: `type/subtype` plus ordered parameters.

    `implied` marks an Accept element written without its `type/subtype` (bare parameters):
    the type is `IMPLIED_RANGE`, not what the sender wrote.
    """

    type: str
    subtype: str
    parameters: tuple[Parameter, ...] = ()
    implied: bool = False

    @property
    def essence(self) -> str:
        return f"{self.type}/{self.subtype}"

    def param(self, name: str) -> str | None:
        """The first value of parameter `name`, or None."""
        for p in self.parameters:
            if p.name == name:
                return p.value
        return None

    def params_named(self, name: str) -> list[Parameter]:
        return [p for p in self.parameters if p.name == name]

    @property
    def q(self) -> float:
        """The weight (1 when absent or unparseable; validators check `q_problem`)."""
        raw = self.param("q")
        if raw is None or not QVALUE.match(raw):
            return 1.0
        return float(raw)

    def q_problem(self) -> str | None:
        raw = self.param("q")
        if raw is not None and not QVALUE.match(raw):
            return f"q={raw!r} is not a weight from 0 to 1 with at most 3 decimals"
        if len(self.params_named("q")) > 1:
            return "q is given more than once"
        return None

    def matches(self, essence: str) -> bool:
        """True when this range covers the concrete `type/subtype`."""
        kind, _, sub = essence.partition("/")
        if self.type == "*":
            return self.subtype == "*"
        return self.type == kind and self.subtype in ("*", sub)

    def __str__(self) -> str:
        bits = [self.essence]
        bits += [f"{p.name}={quote_if_needed(p.value)}" for p in self.parameters]
        return "; ".join(bits)


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise MediaTypeError(f"unterminated quoted string in {text!r}")


def parse_media_type(text: str) -> MediaType:
    """Parse `type/subtype; name=value; ...`, recording how each parameter was written."""
    head, sep, rest = text.partition(";")
    essence = head.strip().lower()
    kind, slash, sub = essence.partition("/")
    if not slash or not is_token(kind) or not is_token(sub):
        raise MediaTypeError(f"{head.strip()!r} is not a type/subtype")
    params: list[Parameter] = []
    i = 0
    while sep and i < len(rest):
        while i < len(rest) and rest[i] in " \t;":
            i += 1
        if i >= len(rest):
            break
        eq = rest.find("=", i)
        semi = rest.find(";", i)
        if eq < 0 or (0 <= semi < eq):
            raise MediaTypeError(
                f"parameter {rest[i : semi if semi >= 0 else None].strip()!r} has no '='"
            )
        name = rest[i:eq].strip().lower()
        if not is_token(name):
            raise MediaTypeError(f"parameter name {name!r} is not a token")
        i = eq + 1
        while i < len(rest) and rest[i] in " \t":
            i += 1
        if i < len(rest) and rest[i] == '"':
            value, i = _read_quoted(rest, i)
            params.append(Parameter(name, value, quoted=True))
            while i < len(rest) and rest[i] in " \t":
                i += 1
            if i < len(rest) and rest[i] != ";":
                raise MediaTypeError(f"text after the quoted value of {name!r}")
        else:
            end = rest.find(";", i)
            end = len(rest) if end < 0 else end
            params.append(Parameter(name, rest[i:end].strip(), quoted=False))
            i = end
    return MediaType(kind, sub, tuple(params))


def split_list(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas inside quoted strings."""
    items: list[str] = []
    current: list[str] = []
    in_quotes = escaped = False
    for ch in value:
        if in_quotes:
            current.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
            current.append(ch)
        elif ch == ",":
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    items.append("".join(current).strip())
    return items


@dataclass(frozen=True)
class AcceptProblem:
    """An Accept element that could not be parsed."""

    index: int
    text: str
    problem: str


@dataclass(frozen=True)
class Accept:
    """A parsed Accept header: its media ranges in order, empty elements, unparseable elements."""

    ranges: tuple[MediaType, ...]
    empty_elements: int = 0
    problems: tuple[AcceptProblem, ...] = ()


def _bare_parameters(element: str) -> bool:
    """True for an element that starts with `name=` instead of `type/subtype`."""
    head = element.split(";", 1)[0]
    name, eq, _ = head.partition("=")
    return bool(eq) and "/" not in name and is_token(name.strip())


def parse_range(element: str) -> MediaType:
    """One Accept element: a media range, or bare parameters read as `IMPLIED_RANGE`."""
    if not _bare_parameters(element):
        return parse_media_type(element)
    written = parse_media_type(f"{MULTIPART_RELATED}; {element}")
    implied = parse_media_type(IMPLIED_RANGE)
    parameters = written.parameters
    if written.param("type") is None:
        parameters = (*implied.parameters, *parameters)
    return MediaType(implied.type, implied.subtype, parameters, implied=True)


def parse_accept(values: str | Iterable[str]) -> Accept:
    """Parse one or several Accept field values (several fields combine as one list)."""
    texts = [values] if isinstance(values, str) else list(values)
    ranges: list[MediaType] = []
    problems: list[AcceptProblem] = []
    empty = 0
    index = 0
    for text in texts:
        for element in split_list(text):
            if not element:
                empty += 1
                continue
            try:
                ranges.append(parse_range(element))
            except MediaTypeError as exc:
                problems.append(AcceptProblem(index, element, str(exc)))
            index += 1
    return Accept(tuple(ranges), empty, tuple(problems))


def _range_covers(media_range: MediaType, offer: MediaType) -> bool:
    if not media_range.matches(offer.essence):
        return False
    wanted_type = media_range.param("type")
    if wanted_type is not None and offer.param("type") is not None:
        try:
            if not parse_media_type(wanted_type).matches(offer.param("type") or ""):
                return False
        except MediaTypeError:
            return False
    offered_ts = offer.param("transfer-syntax")
    if offered_ts is None:
        return True
    wanted_ts = media_range.param("transfer-syntax")
    if wanted_ts is None:
        return offered_ts == transfer_syntax.DEFAULT
    return wanted_ts in (transfer_syntax.WILDCARD, offered_ts)


def choose(accept: Accept | str | None, offers: Sequence[MediaType]) -> MediaType | None:
    """The offer the client prefers: highest q, then the client's order, then the offer order.

    A missing Accept accepts the first offer; q=0 excludes; None means answer 406.
    """
    if accept is None:
        return offers[0] if offers else None
    parsed = parse_accept(accept) if isinstance(accept, str) else accept
    best: tuple[float, int, int] | None = None
    chosen: MediaType | None = None
    for r_index, media_range in enumerate(parsed.ranges):
        weight = media_range.q
        if weight <= 0:
            continue
        for o_index, offer in enumerate(offers):
            if not _range_covers(media_range, offer):
                continue
            key = (-weight, r_index, o_index)
            if best is None or key < best:
                best, chosen = key, offer
    return chosen


@dataclass(frozen=True)
class AcceptedSyntaxes:
    """The transfer syntaxes an Accept lets a server use for a DICOM part type."""

    uids: frozenset[str]
    anything: bool

    def allows(self, uid: str) -> bool:
        return self.anything or uid in self.uids


def _covers_part_type(media_range: MediaType, part_type: str) -> bool:
    inner = media_range.param("type")
    return media_range.essence == part_type or (
        media_range.type == "multipart"
        and media_range.subtype in ("related", "*")
        and (inner is None or inner.strip().lower() in (part_type, "*/*", "application/*"))
    )


def accepted_transfer_syntaxes(accept: Accept | None, part_type: str = DICOM) -> AcceptedSyntaxes:
    """Which transfer syntaxes a DICOM response to this Accept may use (default when unnamed)."""
    if accept is None or not accept.ranges:
        return AcceptedSyntaxes(frozenset({transfer_syntax.DEFAULT}), anything=False)
    uids: set[str] = set()
    anything = False
    for media_range in accept.ranges:
        if media_range.q <= 0:
            continue
        if media_range.essence == "*/*":
            uids.add(transfer_syntax.DEFAULT)
            continue
        if not _covers_part_type(media_range, part_type):
            continue
        ts = media_range.param("transfer-syntax")
        if ts is None:
            uids.add(transfer_syntax.DEFAULT)
        elif ts == transfer_syntax.WILDCARD:
            anything = True
        else:
            uids.add(ts)
    return AcceptedSyntaxes(frozenset(uids), anything)


@dataclass(frozen=True)
class SyntaxWeights:
    """The weight (q) an Accept gives each transfer syntax of a DICOM part type.

    `named` maps each syntax a range names (or implies: Explicit VR Little Endian for a range
    without transfer-syntax) to the highest q given to it; `wildcard` is the highest q of a
    `transfer-syntax=*` range (None without one).
    """

    named: dict[str, float]
    wildcard: float | None = None

    def weight(self, uid: str) -> float:
        """The q a response in `uid` is worth to the client (0: not accepted)."""
        return max(self.named.get(uid, 0.0), self.wildcard or 0.0)

    def preferred_to(self, uid: str) -> list[tuple[str, float]]:
        """The named syntaxes the client weighted above `uid`, highest first."""
        mine = self.weight(uid)
        better = [(other, q) for other, q in self.named.items() if other != uid and q > mine]
        return sorted(better, key=lambda item: -item[1])


def transfer_syntax_weights(accept: Accept | None, part_type: str = DICOM) -> SyntaxWeights:
    """The q of each transfer syntax the Accept names for `part_type` (see `SyntaxWeights`)."""
    named: dict[str, float] = {}
    wildcard: float | None = None
    for media_range in accept.ranges if accept is not None else ():
        if not _covers_part_type(media_range, part_type):
            continue
        ts = media_range.param("transfer-syntax") or transfer_syntax.DEFAULT
        if ts == transfer_syntax.WILDCARD:
            wildcard = max(wildcard or 0.0, media_range.q)
        else:
            named[ts] = max(named.get(ts, 0.0), media_range.q)
    return SyntaxWeights(named, wildcard)
