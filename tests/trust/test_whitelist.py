"""The DRIM-M whitelist: the genuine ANS samples, bench-signed lists, every refusal reason."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from lxml import etree

from drimlab.trust.pki import Pki
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import (
    ANS_SIGNER,
    DS,
    SignerExpectation,
    Whitelist,
    inspect_whitelist,
    load_whitelist,
    same_dn,
)
from drimlab.trust.whitelist_sign import issuer_serial_v2, make_whitelist, sign_whitelist
from drimlab.validation.engine import validate_whitelist
from drimlab.validation.findings import Finding, Severity
from drimlab.validation.report import Verdict
from tests.trust.conftest import bench_list

TODAY = datetime(2026, 11, 29, 12, tzinfo=UTC)
BENCH_SIGNER = SignerExpectation("TEST Liste Blanche DRIM-M DRIMLAB", "300000000990037")


@dataclass(frozen=True)
class Signer:
    common_name: str | None
    organisational_unit: str | None
    signing_time: str | None


@dataclass(frozen=True)
class WhitelistVerification:
    """A list verified through the one path: its facts judged by the WL rules."""

    ok: bool
    findings: tuple[Finding, ...]
    signer: Signer | None
    document: Whitelist | None


def verify_whitelist(source: bytes | Path, **options: Any) -> WhitelistVerification:
    inspection = inspect_whitelist(source, **options)
    report = validate_whitelist(inspection.facts)
    facts = inspection.facts
    signer = (
        None
        if facts.signer is None
        else Signer(facts.signer.common_name, facts.signer.organisational_unit, facts.signing_time)
    )
    ok = report.verdict is Verdict.PASSED
    return WhitelistVerification(ok, report.findings, signer, inspection.document)


def errors(outcome: WhitelistVerification) -> list[str]:
    return [f.rule for f in outcome.findings if f.severity is Severity.ERROR]


def codes(outcome: WhitelistVerification) -> list[str]:
    return [f.rule for f in outcome.findings]


@pytest.fixture(scope="module")
def ans_dir(reference_dir: Path) -> Path:
    return reference_dir / "whitelist"


@pytest.fixture(scope="module")
def ans_chain(ans_dir: Path) -> list[x509.Certificate]:
    """The certificates embedded in the genuine list: signer, intermediate, root."""
    root = etree.parse(str(ans_dir / "signed.xml")).getroot()
    nodes = root.iterfind(f".//{{{DS}}}X509Certificate")
    return [x509.load_der_x509_certificate(base64.b64decode(n.text or "")) for n in nodes]


def test_ans_signed_list_verifies_cryptographically(ans_dir: Path) -> None:
    outcome = verify_whitelist(ans_dir / "signed.xml", at=TODAY)
    assert outcome.ok, outcome.findings
    assert errors(outcome) == []
    assert codes(outcome) == ["WL-011", "WL-011"]  # no anchors, no CRL: said, not hidden
    assert outcome.signer is not None
    assert outcome.signer.common_name == "Liste Blanche DRIM-M"
    assert outcome.signer.organisational_unit == "318751275100020"
    assert outcome.signer.signing_time == "2026-09-17T08:27:36Z"
    assert outcome.document is not None
    assert len(outcome.document.domains) == 17


def test_ans_signed_list_chains_to_the_igc_sante_test_anchors(
    ans_dir: Path, ans_chain: list[x509.Certificate]
) -> None:
    outcome = verify_whitelist(ans_dir / "signed.xml", anchors=ans_chain[1:], at=TODAY)
    assert outcome.ok
    assert codes(outcome) == ["WL-011"]  # only the CRL is missing


def test_ans_list_against_foreign_anchors_is_untrusted(ans_dir: Path, pki: Pki) -> None:
    outcome = verify_whitelist(ans_dir / "signed.xml", anchors=pki.anchors(), at=TODAY)
    assert errors(outcome) == ["WL-007"]


def test_ans_unsigned_list_is_refused_as_unsigned(ans_dir: Path) -> None:
    outcome = verify_whitelist(ans_dir / "unsigned.xml", at=TODAY)
    assert not outcome.ok
    assert codes(outcome) == ["WL-002"]
    assert outcome.document is not None and len(outcome.document.domains) == 6


def test_one_flipped_byte_in_the_signed_content_fails(ans_dir: Path, tmp_path: Path) -> None:
    data = (ans_dir / "signed.xml").read_bytes()
    at = data.index(b"<db>db175.")
    copy = tmp_path / "tampered.xml"
    copy.write_bytes(data[: at + 6] + b"9" + data[at + 7 :])  # db175 -> db975
    outcome = verify_whitelist(copy, at=TODAY)
    assert not outcome.ok
    assert errors(outcome) == ["WL-003"]
    assert "changed after signing" in outcome.findings[0].message


def test_list_verified_after_its_signer_expired_is_refused_as_expired(ans_dir: Path) -> None:
    outcome = verify_whitelist(ans_dir / "signed.xml", at=datetime(2029, 9, 15, tzinfo=UTC))
    assert not outcome.ok
    assert errors(outcome) == ["WL-006"]
    finding = next(f for f in outcome.findings if f.rule == "WL-006")
    assert "expired on 2029-09-14" in finding.message
    assert "signature value itself verifies" in finding.message


def test_unexpected_signer_is_refused(ans_dir: Path) -> None:
    outcome = verify_whitelist(ans_dir / "signed.xml", expected=BENCH_SIGNER, at=TODAY)
    assert errors(outcome) == ["WL-005"]
    assert outcome.findings[0].actual == "CN=Liste Blanche DRIM-M,OU=318751275100020"


def test_issuer_serial_v2_is_encoded_like_the_ans_one(
    ans_dir: Path, ans_chain: list[x509.Certificate]
) -> None:
    root = etree.parse(str(ans_dir / "signed.xml")).getroot()
    node = root.find(".//{http://uri.etsi.org/01903/v1.3.2#}IssuerSerialV2")
    assert node is not None
    assert base64.b64decode(node.text or "") == issuer_serial_v2(ans_chain[0])


def test_bench_signed_list_verifies_fully(pki: Pki, signed_bench_list: Path) -> None:
    crl = RevocationList.load(pki.crl_path, pki.anchors())
    outcome = verify_whitelist(
        signed_bench_list, anchors=pki.anchors(), crl=crl, expected=BENCH_SIGNER
    )
    assert outcome.ok
    assert outcome.findings == ()


def test_bench_signed_list_has_the_ans_shape(signed_bench_list: Path) -> None:
    root = etree.parse(str(signed_bench_list)).getroot()
    signature = root.find(f"{{{DS}}}Signature")
    assert signature is not None
    algorithms = [t.get("Algorithm") for t in signature.iter(f"{{{DS}}}Transform")]
    assert algorithms[:2] == [
        "http://www.w3.org/2002/06/xmldsig-filter2",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    assert method is not None
    assert method.get("Algorithm") == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    assert root.find(".//{http://uri.etsi.org/01903/v1.3.2#}SigningTime") is not None
    assert root.find(".//{http://uri.etsi.org/01903/v1.3.2#}SigningCertificateV2") is not None
    assert len(signature.findall(f".//{{{DS}}}X509Certificate")) == 3


def test_tampered_bench_list_fails(pki: Pki, signed_bench_list: Path) -> None:
    data = signed_bench_list.read_bytes().replace(b"<db>localhost</db>", b"<db>evil.test</db>")
    outcome = verify_whitelist(data, anchors=pki.anchors(), expected=BENCH_SIGNER)
    assert errors(outcome) == ["WL-003"]


def test_second_signature_is_refused_as_incomplete_scope(signed_bench_list: Path) -> None:
    root = etree.fromstring(signed_bench_list.read_bytes())
    signature = root.find(f"{{{DS}}}Signature")
    assert signature is not None
    holder = root.find("{https://github.com/ansforge/DRIM-M_DATA}ListeDomaines")
    assert holder is not None
    holder.append(etree.fromstring(etree.tostring(signature)))
    outcome = verify_whitelist(etree.tostring(root), expected=BENCH_SIGNER)
    assert errors(outcome) == ["WL-004"]


def test_reference_to_part_of_the_list_is_refused(signed_bench_list: Path) -> None:
    data = signed_bench_list.read_bytes().replace(b'URI=""', b'URI="#elsewhere"', 1)
    outcome = verify_whitelist(data, expected=BENCH_SIGNER)
    assert errors(outcome) == ["WL-004"]


@pytest.mark.parametrize(
    "data",
    [b"<ListeBlancheDRIM-M", b"<ListeBlanche/>", b'<x:ListeBlancheDRIM-M xmlns:x="urn:other"/>'],
)
def test_malformed_lists_are_refused(data: bytes) -> None:
    outcome = verify_whitelist(data)
    assert codes(outcome) == ["WL-001"]
    assert outcome.document is None and not outcome.ok


def test_revoked_signer_stale_crl_and_rogue_signer(tmp_path: Path) -> None:
    own = Pki.init(tmp_path / "pki")
    signed = bench_list(own)
    own.revoke("whitelist-signer")
    crl = RevocationList.load(own.crl_path, own.anchors())
    revoked = verify_whitelist(signed, anchors=own.anchors(), crl=crl, expected=BENCH_SIGNER)
    assert errors(revoked) == ["WL-008"]
    stale = verify_whitelist(
        signed,
        anchors=own.anchors(),
        crl=crl,
        expected=BENCH_SIGNER,
        at=datetime.now(UTC) + timedelta(days=8),
    )
    assert errors(stale) == ["WL-009"]
    rogue = sign_whitelist(
        make_whitelist([("localhost", "", "X", own.entry("source").subject)]),
        own.certificate("rogue"),
        own.key_path("rogue").read_bytes(),
        [own.certificate("rogue-organisations"), own.certificate("rogue-root")],
    )
    outcome = verify_whitelist(rogue, anchors=own.anchors(), crl=crl, expected=BENCH_SIGNER)
    assert "WL-007" in errors(outcome)
    assert "WL-005" in errors(outcome)


def test_dn_comparison_is_attribute_wise_and_order_insensitive() -> None:
    host = "db175.test.mesimagesmedicales.fr"
    listed = f"CN={host},OU=300000001831981,O=MINISTERE DE TEST3198,ST=Côte-d'Or (21),C=FR"
    reordered = f"C=FR,ST=Côte-d'Or (21),O=ministere de test3198,OU=300000001831981,CN={host}"
    spaced = f"CN={host}, OU=300000001831981, O=MINISTERE  DE TEST3198, ST=Côte-d'Or (21), C=FR"
    assert same_dn(listed, reordered)
    assert same_dn(listed, spaced)
    assert not same_dn(listed, listed.replace("300000001831981", "300000001831999"))
    assert not same_dn(listed, listed.replace(",C=FR", ""))
    assert not same_dn(listed, "not a DN")
    assert same_dn(r"CN=a\, b,O=x", "O=X,CN=A\\, B")
    assert not same_dn(r"CN=a\, b,O=x", "CN=a,CN=b,O=x")


def test_every_domain_field_is_read(ans_dir: Path) -> None:
    document = load_whitelist(ans_dir / "signed.xml")
    first = document.domains[0]
    assert first.identifiant == "3"
    assert first.db == "db3.test.mesimagesmedicales.fr"
    assert first.vi == "vi3.test.mesimagesmedicales.fr"
    assert first.denomination == "ANS"
    assert first.dn_certificat_operateur.startswith("CN=db3.test.mesimagesmedicales.fr,OU=3187")
    assert first.support_contact == "drim-m@esante.gouv.fr"
    assert first.date_maj == "2024-12-10T11:27:12Z"
    assert document.version_format == "1.0.0"
    assert document.date_de_generation == "2026-06-19T18:06:52Z"
    assert document.domains_for_host("DB175.test.mesimagesmedicales.fr")


def test_ans_signer_constant_names_the_genuine_signer() -> None:
    assert ANS_SIGNER.common_name == "Liste Blanche DRIM-M"
    assert ANS_SIGNER.organisational_unit == "318751275100020"


def _subject_of(dn: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in dn.split(","))


def _igc_sante_name(dn: str, *, merge_ou_cn: bool = False) -> x509.Name:
    """The subject an IGC-Santé certificate for a listed DN encodes: C first, one AVA per RDN."""
    from cryptography.x509.oid import NameOID

    fields = _subject_of(dn)
    attribute = x509.NameAttribute
    rdns = [
        x509.RelativeDistinguishedName([attribute(NameOID.COUNTRY_NAME, fields["C"])]),
        x509.RelativeDistinguishedName([attribute(NameOID.STATE_OR_PROVINCE_NAME, fields["ST"])]),
        x509.RelativeDistinguishedName([attribute(NameOID.ORGANIZATION_NAME, fields["O"])]),
    ]
    ou = attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, fields["OU"])
    cn = attribute(NameOID.COMMON_NAME, fields["CN"])
    if merge_ou_cn:
        rdns.append(x509.RelativeDistinguishedName([ou, cn]))
    else:
        rdns += [x509.RelativeDistinguishedName([ou]), x509.RelativeDistinguishedName([cn])]
    return x509.Name(rdns)


def test_every_ans_listed_dn_matches_the_certificate_it_names(ans_dir: Path) -> None:
    document = load_whitelist(ans_dir / "signed.xml")
    assert len(document.domains) > 10
    for domain in document.domains:
        name = _igc_sante_name(domain.dn_certificat_operateur)
        # the certificate's Name, and its RFC 4514 string (what the TLS facts keep)
        assert document.domain_for_dn(name) == domain
        assert document.domain_for_dn(name.rfc4514_string()) == domain
        merged = _igc_sante_name(domain.dn_certificat_operateur, merge_ou_cn=True)
        assert document.domain_for_dn(merged) is None
        assert document.domain_for_dn(merged.rfc4514_string()) is None


def test_dn_comparison_is_rdn_by_rdn() -> None:
    listed = "CN=db.test,OU=300000001831981,O=TEST,ST=Paris (75),C=FR"
    # a multi-valued RDN is one RDN, not two, whatever the order inside it
    assert not same_dn(listed, "CN=db.test+OU=300000001831981,O=TEST,ST=Paris (75),C=FR")
    assert same_dn("CN=db.test+OU=1,O=T", "OU=1+CN=db.test,O=T")
    # RFC 4514 order or its exact reverse; any other order is another name
    assert same_dn(listed, "C=FR,ST=Paris (75),O=TEST,OU=300000001831981,CN=db.test")
    assert not same_dn(listed, "OU=300000001831981,CN=db.test,O=TEST,ST=Paris (75),C=FR")
    # case, insignificant spaces and Unicode compatibility forms, as RFC 4518 prepares them
    assert same_dn(listed, "cn = DB.TEST ;  OU=300000001831981 ,o=  test,ST=paris  (75),C=fr")
    assert same_dn("CN=ﬁche,C=FR", "CN=fiche,C=FR")
    # an escaped separator stays inside its value
    assert same_dn(r"CN=a\+b,O=x", r"CN=A\+B,O=X")
    assert not same_dn(r"CN=a\+b,O=x", "CN=a+CN=b,O=x")
    assert not same_dn("", "")
