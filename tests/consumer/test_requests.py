"""The requests the client simulator builds from the ANS KOS samples (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.dicomweb.media import parse_accept
from drimlab.documents.kos import read_kos
from drimlab.errors import InputError
from drimlab.simulators.consumer import (
    DRIM_M_ACCEPT,
    USER_AGENT,
    RetrieveOptions,
    plan_requests,
    resolve_target,
)

ANS_KOS = ("ans-example-ko.dcm", "xdm-KOS_1_1.dcm")


def _sample_accept(reference_dir: Path) -> str:
    text = (reference_dir / "wado-rs" / "request-series.txt").read_text()
    line = next(x for x in text.splitlines() if x.startswith("Accept:"))
    return line.split(":", 1)[1]


def test_accept_is_the_ans_list_without_boundary_and_trailing_comma(reference_dir: Path) -> None:
    sample = _sample_accept(reference_dir)
    assert sample.replace(";boundary=**", "").rstrip(",") == DRIM_M_ACCEPT
    ours = parse_accept(DRIM_M_ACCEPT)
    theirs = parse_accept(sample)
    assert [(r.param("transfer-syntax"), r.q) for r in ours.ranges] == [
        (r.param("transfer-syntax"), r.q) for r in theirs.ranges
    ]
    assert not ours.problems


@pytest.mark.parametrize("name", ANS_KOS)
def test_series_requests_are_exactly_what_the_kos_implies(reference_dir: Path, name: str) -> None:
    path = reference_dir / "kos" / name
    kos = read_kos(path)
    target = resolve_target(RetrieveOptions(kos_path=path))
    requests = plan_requests(target, token="tok.en.value")
    assert [r.url for r in requests] == [s.retrieve_url for s in kos.series]
    for request, series in zip(requests, kos.series, strict=True):
        assert request.method == "GET"
        assert request.target == (
            f"/api/source/studies/{kos.study_instance_uid}/series/{series.series_instance_uid}"
        )
        assert request.headers == (
            ("Host", "localhost:4200"),
            ("Accept", DRIM_M_ACCEPT),
            ("Authorization", "Bearer tok.en.value"),
            ("KOS-SOPInstanceUID", kos.sop_instance_uid),
            ("User-Agent", USER_AGENT),
            ("Connection", "close"),
        )
        head = request.head().decode("latin-1")
        assert head.startswith(f"GET {request.target} HTTP/1.1\r\nHost: localhost:4200\r\n")
        assert head.endswith("Connection: close\r\n\r\n")


def test_study_and_instance_levels(reference_dir: Path) -> None:
    path = reference_dir / "kos" / "ans-example-ko.dcm"
    kos = read_kos(path)
    target = resolve_target(RetrieveOptions(kos_path=path))
    (study,) = plan_requests(target, level="study", token=None)
    assert study.url == f"http://localhost:4200/api/source/studies/{kos.study_instance_uid}"
    assert study.header("Authorization") is None
    instances = plan_requests(target, level="instance", token="t")
    assert len(instances) == kos.instance_count == 20
    first = kos.series[0]
    assert instances[0].url == (
        f"{first.retrieve_url}/instances/{first.instances[0].sop_instance_uid}"
    )


def test_explicit_uids_and_base_override(reference_dir: Path) -> None:
    target = resolve_target(
        RetrieveOptions(
            base_url="https://db.example.test:8443/wado/",
            study="1.2.3",
            series=("1.2.3.4",),
            instance="1.2.3.4.5",
            kos_uid="1.2.9",
        )
    )
    (request,) = plan_requests(target, token="t", accept="application/dicom")
    assert (
        request.url
        == "https://db.example.test:8443/wado/studies/1.2.3/series/1.2.3.4/instances/1.2.3.4.5"
    )
    assert request.header("Host") == "db.example.test:8443"
    assert request.header("Accept") == "application/dicom"
    assert request.header("KOS-SOPInstanceUID") == "1.2.9"
    # A base URL overrides the KOS Retrieve URLs (a source that moved).
    path = reference_dir / "kos" / "xdm-KOS_1_1.dcm"
    moved = resolve_target(RetrieveOptions(kos_path=path, base_url="https://new.test/dw"))
    (one,) = plan_requests(moved, token="t")
    assert one.url.startswith("https://new.test/dw/studies/")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (RetrieveOptions(), "give --kos FILE"),
        (RetrieveOptions(base_url="https://x.test", study="1.02"), "malformed"),
        (RetrieveOptions(base_url="ftp://x.test", study="1.2"), "must start with https://"),
        (
            RetrieveOptions(base_url="https://x.test", study="1.2", instance="1.2.3"),
            "--instance needs exactly one --series",
        ),
    ],
)
def test_unusable_options_are_input_errors(options: RetrieveOptions, message: str) -> None:
    with pytest.raises(InputError, match=message):
        resolve_target(options)


def test_a_series_the_kos_does_not_list_is_refused(reference_dir: Path) -> None:
    path = reference_dir / "kos" / "xdm-KOS_1_1.dcm"
    with pytest.raises(InputError, match="not referenced by the KOS"):
        resolve_target(RetrieveOptions(kos_path=path, series=("1.2.3",)))
