"""Attribution of the server simulator's exchanges to organisations, and claims."""

from __future__ import annotations

from datetime import UTC, datetime

from drimlab.exchange import Exchange
from drimlab.facts.tls import CertificateFacts, Role, TlsFacts
from drimlab.store import Store, accounts
from drimlab.store.ownership import MISSING, attribute, claim, owner_of_exchange, owner_of_report
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.assess import Selection
from drimlab.validation.engine import validate_exchange


def _certificate(subject: str, cn: str, dns: tuple[str, ...] = ()) -> CertificateFacts:
    now = datetime.now(UTC)
    return CertificateFacts(
        subject=subject,
        issuer="CN=TEST CA",
        serial="01",
        sha256="00" * 32,
        not_before=now,
        not_after=now,
        common_name=cn,
        dns_names=dns,
    )


def _server_exchange(certificate: CertificateFacts | None) -> Exchange:
    tls = TlsFacts(role=Role.SERVER, peer_chain=(certificate,) if certificate else ())
    return Exchange(
        method="GET",
        target="/dicom-web/studies/1.2.3",
        request_headers=(("Host", "localhost"),),
        status=200,
        origin="server",
        tls=tls,
    )


def test_a_certificate_is_attributed_by_dn_else_by_the_most_specific_domain(store: Store) -> None:
    a = accounts.create_organisation(store, "A", ("vendor-a.test",))
    b = accounts.create_organisation(store, "B", ("CN=box.vendor-b.test,O=B,C=FR",))
    c = accounts.create_organisation(store, "C", ("lab.vendor-a.test",))
    with store.session() as session:
        assert attribute(session, _certificate("CN=x", "drimbox.vendor-a.test")) == a.id
        assert attribute(session, _certificate("CN=x", "VENDOR-A.test")) == a.id
        assert attribute(session, _certificate("CN=x", "n", ("h.lab.vendor-a.test",))) == c.id
        assert attribute(session, _certificate("CN=box.vendor-b.test,O=B,C=FR", "y")) == b.id
        assert attribute(session, _certificate("CN=x", "evil-vendor-a.test")) is None
        assert attribute(session, _certificate("CN=x", "vendor-a.test.evil.example")) is None
        assert attribute(session, None) is None


def test_the_server_simulators_exchange_and_its_report_belong_to_the_certificates_organisation(
    store: Store,
) -> None:
    a = accounts.create_organisation(store, "A", ("vendor-a.test",))
    exchange = _server_exchange(_certificate("CN=drimbox.vendor-a.test", "drimbox.vendor-a.test"))
    report = validate_exchange(exchange, Selection.of("drim-m"))
    exchange_id = save_exchange(store, exchange)
    report_id = save_report(store, report, exchange_id=exchange_id)
    assert owner_of_exchange(store, exchange_id) == a.id
    assert owner_of_report(store, report_id) == a.id
    stranger = save_exchange(store, _server_exchange(_certificate("CN=other", "other.test")))
    assert owner_of_exchange(store, stranger) is None
    assert owner_of_exchange(store, "no-such-id") == MISSING


def test_claims_never_take_a_row_from_its_owner(store: Store) -> None:
    a = accounts.create_organisation(store, "A", ("vendor-a.test",))
    b = accounts.create_organisation(store, "B")
    owned = save_exchange(store, _server_exchange(_certificate("CN=d", "d.vendor-a.test")))
    free = save_exchange(store, _server_exchange(None))
    claim(store, b.id, exchange_ids=[owned, free])
    assert owner_of_exchange(store, owned) == a.id
    assert owner_of_exchange(store, free) == b.id
