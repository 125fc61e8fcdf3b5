"""The WADO-RS resource grammar (PS3.18 §10.4.1): turn a request target into a `Resource`.

`parse_target` accepts an origin-form path (`/dicom-web/studies/1.2/series/3.4`) or an
absolute URL; the base is everything before `/studies`, as in a KOS Retrieve URL.
UIDs are extracted, not judged: `uids.uid_problem` says whether each is well formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote, urlsplit


class PathError(ValueError):
    """A target that does not follow the WADO-RS resource grammar; the message says where."""


class Level(StrEnum):
    """The level a resource addresses."""

    STUDY = "study"
    SERIES = "series"
    INSTANCE = "instance"
    FRAMES = "frames"


class Kind(StrEnum):
    """What the resource returns."""

    INSTANCES = "instances"
    METADATA = "metadata"
    RENDERED = "rendered"
    THUMBNAIL = "thumbnail"
    FRAMES = "frames"
    BULKDATA = "bulkdata"


@dataclass(frozen=True)
class Resource:
    """One WADO-RS resource: its base URL, UIDs, level and kind."""

    base: str
    study: str
    series: str | None = None
    instance: str | None = None
    kind: Kind = Kind.INSTANCES
    frames: tuple[int, ...] = ()
    query: str = ""

    @property
    def level(self) -> Level:
        if self.frames:
            return Level.FRAMES
        if self.instance is not None:
            return Level.INSTANCE
        if self.series is not None:
            return Level.SERIES
        return Level.STUDY

    def uids(self) -> list[tuple[str, str]]:
        """(label, UID) of every UID in the path, outermost first."""
        out = [("study", self.study)]
        if self.series is not None:
            out.append(("series", self.series))
        if self.instance is not None:
            out.append(("instance", self.instance))
        return out

    @property
    def path(self) -> str:
        """The resource path after the base, e.g. `/studies/1.2/series/3.4`."""
        bits = ["", "studies", self.study]
        if self.series is not None:
            bits += ["series", self.series]
        if self.instance is not None:
            bits += ["instances", self.instance]
        if self.kind is Kind.FRAMES:
            bits += ["frames", ",".join(str(f) for f in self.frames)]
        elif self.kind is not Kind.INSTANCES:
            bits.append(self.kind.value)
        return "/".join(bits)


_SUFFIX_KINDS = {k.value: k for k in (Kind.METADATA, Kind.RENDERED, Kind.THUMBNAIL, Kind.BULKDATA)}


def _parse_frames(text: str) -> tuple[int, ...]:
    frames: list[int] = []
    for item in text.split(","):
        if not (item.isascii() and item.isdigit()) or int(item) < 1:
            raise PathError(f"frame list {text!r}: {item!r} is not a frame number (1, 2, ...)")
        frames.append(int(item))
    return tuple(frames)


def parse_target(target: str) -> Resource:
    """Parse a request target (path or absolute URL) into a Resource, or raise PathError."""
    try:
        split = urlsplit(target.strip())
    except ValueError as exc:
        raise PathError(f"target {target!r} is not a URL: {exc}") from None
    raw_path = split.path
    if not raw_path.startswith("/"):
        raise PathError(f"target {target!r} is not a path or an absolute URL")
    segments = raw_path.split("/")
    try:
        start = segments.index("studies")
    except ValueError:
        raise PathError(f"no /studies segment in {raw_path!r}") from None
    base_path = "/".join(segments[:start])
    base = f"{split.scheme}://{split.netloc}{base_path}" if split.netloc else base_path
    rest = [unquote(s) for s in segments[start + 1 :]]
    if rest and rest[-1] == "":
        raise PathError(f"trailing slash in {raw_path!r}")
    uids: dict[str, str] = {}
    kind = Kind.INSTANCES
    frames: tuple[int, ...] = ()
    labels = ("study", "series", "instance")
    expected_keyword = {"series": "series", "instance": "instances"}
    position = 0
    index = 0
    while index < len(rest):
        if position == 0:
            uids["study"] = rest[index]
            position, index = 1, index + 1
            continue
        word = rest[index]
        nxt = labels[position] if position < len(labels) else None
        if nxt is not None and word == expected_keyword[nxt]:
            if index + 1 >= len(rest):
                raise PathError(f"/{word} is not followed by a UID in {raw_path!r}")
            uids[nxt] = rest[index + 1]
            position, index = position + 1, index + 2
            continue
        if word == "frames" and "instance" in uids:
            if index + 1 >= len(rest):
                raise PathError(f"/frames is not followed by a frame list in {raw_path!r}")
            kind, frames = Kind.FRAMES, _parse_frames(rest[index + 1])
            index += 2
        elif word in _SUFFIX_KINDS:
            kind = _SUFFIX_KINDS[word]
            index += 1
            if kind is Kind.BULKDATA:
                index = len(rest)  # a BulkDataURI tail is the server's own business
        else:
            raise PathError(f"unexpected segment {word!r} in {raw_path!r}")
        if index < len(rest):
            raise PathError(f"unexpected segment {rest[index]!r} after /{kind.value}")
    if "study" not in uids:
        raise PathError(f"/studies is not followed by a UID in {raw_path!r}")
    return Resource(
        base=base,
        study=uids["study"],
        series=uids.get("series"),
        instance=uids.get("instance"),
        kind=kind,
        frames=frames,
        query=split.query,
    )
