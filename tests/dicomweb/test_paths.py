"""The WADO-RS resource grammar."""

from __future__ import annotations

import pytest

from drimlab.dicomweb.paths import Kind, Level, PathError, Resource, parse_target


def test_absolute_series_url() -> None:
    r = parse_target("https://h.example:8443/dicom-web/studies/1.2/series/3.4")
    assert (r.base, r.study, r.series, r.level, r.kind) == (
        "https://h.example:8443/dicom-web",
        "1.2",
        "3.4",
        Level.SERIES,
        Kind.INSTANCES,
    )


@pytest.mark.parametrize(
    ("target", "level", "kind"),
    [
        ("/studies/1", Level.STUDY, Kind.INSTANCES),
        ("/wado/studies/1/series/2/instances/3", Level.INSTANCE, Kind.INSTANCES),
        ("/studies/1/series/2/instances/3/frames/1,3", Level.FRAMES, Kind.FRAMES),
        ("/studies/1/metadata", Level.STUDY, Kind.METADATA),
        ("/studies/1/series/2/rendered", Level.SERIES, Kind.RENDERED),
        (
            "/studies/1/series/2/instances/3/thumbnail?viewport=64,64",
            Level.INSTANCE,
            Kind.THUMBNAIL,
        ),
        ("/studies/1/series/2/instances/3/bulkdata/7fe00010", Level.INSTANCE, Kind.BULKDATA),
    ],
)
def test_levels_and_kinds(target: str, level: Level, kind: Kind) -> None:
    r = parse_target(target)
    assert (r.level, r.kind) == (level, kind)


def test_path_round_trip() -> None:
    r = Resource(base="", study="1", series="2", instance="3", kind=Kind.FRAMES, frames=(1, 2))
    assert parse_target(r.path) == r


@pytest.mark.parametrize(
    "target",
    [
        "/dicom-web/study/1",
        "/studies",
        "/studies/",
        "/studies/1/series",
        "/studies/1/instances/3",
        "/studies/1/series/2/frames/1",
        "/studies/1/series/2/instances/3/frames/0",
        "/studies/1/series/2/instances/3/frames/a",
        "/studies/1/metadata/extra",
        "studies/1",
        "http://[bad/studies/1",
    ],
)
def test_rejected(target: str) -> None:
    with pytest.raises(PathError):
        parse_target(target)
