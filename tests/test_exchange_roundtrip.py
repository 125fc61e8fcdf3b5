"""`Exchange.as_dict/from_dict` is the one serialisation: it carries every field, through JSON
and through the store, and re-validating a stored exchange gives exactly the original findings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drimlab.exchange import Exchange, PartRecord, Purpose
from drimlab.facts.decision import Cause, Decision
from drimlab.facts.relay import RelayEnd, RelayFacts, Tally
from drimlab.facts.tls import (
    CertificateFacts,
    HandshakeFailure,
    Listing,
    RefusedBy,
    Revocation,
    Role,
    TlsFacts,
    TrustLookups,
)
from drimlab.store import Store
from drimlab.store.records import load_exchange, save_exchange
from drimlab.validation.assess import Selection, selection_of_report
from drimlab.validation.engine import validate_exchange
from drimlab.validation.report import Report

UIDS = st.from_regex(r"\A[1-9][0-9]{0,3}(\.[1-9][0-9]{0,3}){1,6}\Z")
TEXT = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=40
)
NAMES = st.sampled_from(
    ["Accept", "Authorization", "KOS-SOPInstanceUID", "Host", "Content-Type", "X-Trace", "é"]
)
HEADERS = st.lists(st.tuples(NAMES, TEXT), max_size=6).map(tuple)
TIMES = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
ACCEPTS = st.sampled_from(
    [
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1',
        'multipart/related; type="application/dicom"',
        "transfer-syntax=1.2.840.10008.1.2.4.50;q=0.9;boundary=b",
        "application/json",
        "",
    ]
)


@st.composite
def certificates(draw: st.DrawFn) -> CertificateFacts:
    start = draw(TIMES)
    return CertificateFacts(
        subject=f"CN={draw(TEXT)},OU={draw(st.sampled_from(['300000000990029', 'Radiology']))}",
        issuer=f"CN={draw(TEXT)}",
        serial=draw(st.from_regex(r"\A[0-9a-f]{1,16}\Z")),
        sha256=draw(st.from_regex(r"\A[0-9a-f]{64}\Z")),
        not_before=start,
        not_after=draw(TIMES),
        common_name=draw(st.none() | TEXT),
        organisational_unit=draw(st.none() | st.sampled_from(["300000000990029", "Radiology"])),
        extended_key_usages=draw(
            st.none()
            | st.lists(st.sampled_from(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"])).map(tuple)
        ),
        dns_names=tuple(draw(st.lists(TEXT, max_size=2))),
    )


@st.composite
def tls_facts(draw: st.DrawFn) -> TlsFacts:
    role = draw(st.sampled_from(Role))
    if not draw(st.booleans()):
        return TlsFacts(role=role, tls=False, peer_address=draw(st.none() | TEXT))
    handshake = draw(
        st.none()
        | st.builds(
            HandshakeFailure,
            refused_by=st.sampled_from(RefusedBy),
            reason=st.sampled_from(
                ["PEER_DID_NOT_RETURN_A_CERTIFICATE", "TLSV1_ALERT_UNKNOWN_CA", "NO_SHARED_CIPHER"]
            ),
            message=TEXT,
            verify_code=st.none() | st.sampled_from([9, 10, 20, 23, 26, 62]),
            verify_message=st.none() | TEXT,
        )
    )
    lookups = TrustLookups(
        revocation=draw(st.sampled_from(Revocation)),
        revocation_detail=draw(TEXT),
        dn_listing=draw(st.sampled_from(Listing)),
        listed_domain=draw(st.none() | TEXT),
        host=draw(st.none() | TEXT),
        host_listing=draw(st.sampled_from(Listing)),
        dns_listed_for_host=tuple(draw(st.lists(TEXT, max_size=2))),
        dn_matches_host=draw(st.none() | st.booleans()),
    )
    return TlsFacts(
        role=role,
        peer_address=draw(st.none() | TEXT),
        version=draw(st.none() | st.sampled_from(["TLSv1.2", "TLSv1.3", "TLSv1.1"])),
        cipher=draw(st.none() | st.sampled_from(["TLS_AES_128_GCM_SHA256", "AES256-SHA"])),
        peer_chain=tuple(draw(st.lists(certificates(), max_size=2))),
        chain_verified=draw(st.booleans()),
        handshake=handshake,
        lookups=lookups,
        trust_hint=draw(st.none() | TEXT),
    )


SHA256 = st.from_regex(r"\A[0-9a-f]{64}\Z")
TALLIES = st.builds(
    Tally,
    received_bytes=st.integers(0, 2**40),
    received_sha256=SHA256,
    sent_bytes=st.integers(0, 2**40),
    sent_sha256=SHA256,
)
RELAYS = st.builds(
    RelayFacts,
    upstream=TEXT,
    request=TALLIES,
    response=TALLIES,
    ended=st.sampled_from(RelayEnd),
    detail=TEXT,
    proxy_status=st.none() | st.sampled_from([400, 502]),
    validation_budget=st.integers(0, 2**32),
    validation_behind_at=st.none() | st.integers(0, 2**40),
)


@st.composite
def exchanges(draw: st.DrawFn) -> Exchange:
    study, series = draw(UIDS), draw(UIDS)
    has_request = draw(st.booleans())
    has_response = draw(st.booleans())
    target = draw(
        st.sampled_from(
            [
                f"/dicom-web/studies/{study}/series/{series}",
                f"/dicom-web/studies/{study}",
                f"/dicom-web/studies/{study}/series/{series}/instances/{series}.1",
                "/dicom-web/studies/1.2.03.abc",
                "/not/dicomweb",
            ]
        )
    )
    headers = (("Accept", draw(ACCEPTS)), *draw(HEADERS))
    status = draw(st.sampled_from([200, 206, 400, 401, 403, 404, 406, 500]))
    response_headers = (
        ("Content-Type", 'multipart/related; type="application/dicom"; boundary=b'),
        *draw(HEADERS),
    )
    body = draw(st.none() | st.binary(max_size=300))
    return Exchange(
        method=draw(st.sampled_from(["GET", "HEAD", "POST"])) if has_request else None,
        target=target if has_request else None,
        request_headers=headers if has_request else (),
        request_body=draw(st.none() | st.binary(max_size=50)) if has_request else None,
        http_version=draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0"])),
        status=status if has_response else None,
        reason=draw(TEXT) if has_response else "",
        response_headers=response_headers if has_response else (),
        response_body=body if has_response else None,
        response_body_encoded=draw(st.booleans()) if has_response and body else False,
        tls=draw(st.none() | tls_facts()),
        timings={"started_at": draw(TIMES).timestamp(), "total": draw(st.floats(0, 100))},
        origin=draw(st.sampled_from(["server", "client", "proxy", "file"])),
        label=draw(TEXT),
        request_problems=tuple(draw(st.lists(TEXT, max_size=2))),
        response_problems=tuple(draw(st.lists(TEXT, max_size=2))),
        decision=draw(
            st.none()
            | st.builds(
                Decision,
                status=st.sampled_from([200, 401, 403, 404, 406]),
                cause=st.sampled_from(Cause),
                detail=TEXT,
                faults=st.lists(st.sampled_from(["truncated", "slow"]), max_size=2).map(tuple),
            )
        ),
        transport_error=draw(st.none() | TEXT),
        purpose=draw(st.sampled_from(Purpose)),
        parts=tuple(
            draw(
                st.lists(
                    st.builds(
                        PartRecord,
                        index=st.integers(0, 9),
                        size=st.integers(0, 2**40),
                        sha256=st.from_regex(r"\A[0-9a-f]{64}\Z"),
                        sop_instance_uid=st.none() | UIDS,
                        transfer_syntax_uid=st.none() | UIDS,
                        kept_as=st.none() | TEXT,
                    ),
                    max_size=3,
                )
            )
        ),
        upstream_tls=draw(st.none() | tls_facts()),
        relay=draw(st.none() | RELAYS),
    )


def _findings(report: Report) -> list[tuple[str, str, str, str]]:
    return [(f.rule, f.severity.value, f.message, str(f.location)) for f in report.findings]


@given(exchanges())
def test_as_dict_and_from_dict_carry_every_field(exchange: Exchange) -> None:
    data = json.loads(json.dumps(exchange.as_dict()))
    again = Exchange.from_dict(
        data, request_body=exchange.request_body, response_body=exchange.response_body
    )
    assert again == exchange
    assert again.as_dict() == exchange.as_dict()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exchanges())
def test_a_stored_exchange_is_the_exchange_and_judges_the_same(
    store: Store, exchange: Exchange
) -> None:
    exchange_id = save_exchange(store, exchange)
    loaded = load_exchange(store, exchange_id)
    assert loaded.as_dict() == exchange.as_dict()
    for mine, theirs in ((exchange.request_body, loaded.request_body),
                         (exchange.response_body, loaded.response_body)):  # fmt: skip
        if mine is None:
            assert theirs is None
        else:
            assert isinstance(theirs, Path) and theirs.read_bytes() == mine
    assert _findings(validate_exchange(loaded)) == _findings(validate_exchange(exchange))


@settings(max_examples=30, deadline=None)
@given(exchanges(), st.sampled_from([(), ("TLS-013",), ("WADO-RQ", "DRIM-004")]))
def test_the_monitor_re_runs_with_the_stored_selection(
    exchange: Exchange, ignored: tuple[str, ...]
) -> None:
    # What the monitor does with a bundle: the report comes back from JSON, the exchange from
    # its `as_dict`, and the re-validation uses the selection the report was made with.
    original = validate_exchange(exchange, Selection.of("drim-m", ignore=ignored, severities=()))
    stored = Report.from_dict(json.loads(json.dumps(original.as_dict())))
    exchange_again = Exchange.from_dict(
        json.loads(json.dumps(exchange.as_dict())),
        request_body=exchange.request_body,
        response_body=exchange.response_body,
    )
    fresh = validate_exchange(exchange_again, selection_of_report(stored))
    assert _findings(fresh) == _findings(stored)
    assert fresh.rules_checked == stored.rules_checked
