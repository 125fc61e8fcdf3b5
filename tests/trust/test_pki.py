"""The test PKI: hierarchy, names, usages, CRL, negative set, files and permissions."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from drimlab.errors import ConfigurationError, InputError
from drimlab.trust.pki import Pki
from drimlab.trust.pki_verify import Revocation, RevocationList, verify_chain

NEGATIVE = {"expired", "not-yet-valid", "revoked", "wrong-usage", "unlisted", "rogue"}


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_hierarchy_is_shaped_like_igc_sante_and_marked_test(pki: Pki) -> None:
    root, org = pki.certificate("root"), pki.certificate("organisations")
    assert "TEST" in _cn(root) and "RACINE" in _cn(root)
    assert "TEST" in _cn(org) and "ORGANISATIONS" in _cn(org)
    assert root.issuer == root.subject and org.issuer == root.subject
    for entry in pki.entries:
        assert "TEST" in entry.subject or entry.role in {"drimbox", "negative"}
        assert "TEST" in entry.issuer


def test_drimbox_certificates_carry_the_org_profile(pki: Pki) -> None:
    cert = pki.certificate("source")
    subject = cert.subject
    assert _cn(cert) == "localhost"
    ou = str(subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value)
    assert len(ou) == 15 and ou.startswith("3") and ou.isdigit()
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "FR"
    assert subject.get_attributes_for_oid(NameOID.STATE_OR_PROVINCE_NAME)
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    crldp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    names = crldp[0].full_name or []
    assert [n.value for n in names] == [pki.crl_url]
    assert pki.crl_url.startswith("http://")
    chain = verify_chain(cert, [pki.certificate("organisations")], [pki.certificate("root")])
    assert chain.ok, chain.problem


def test_negative_set_and_signer_are_in_the_manifest(pki: Pki) -> None:
    manifest = json.loads((pki.directory / "manifest.json").read_text())
    by_name = {e["name"]: e for e in manifest["certificates"]}
    assert set(by_name) >= NEGATIVE
    assert by_name["whitelist-signer"]["role"] == "whitelist-signer"
    for name in NEGATIVE:
        assert by_name[name]["expect"].startswith("refused: ")
    assert by_name["revoked"]["revoked_at"] is not None
    wrong = pki.certificate("wrong-usage").extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert ExtendedKeyUsageOID.CLIENT_AUTH not in wrong.value
    rogue = pki.certificate("rogue")
    assert rogue.issuer == pki.certificate("organisations").subject  # a look-alike name...
    assert not verify_chain(rogue, [], pki.anchors()).ok  # ...with another key


def test_crl_lists_the_revoked_certificate_only(pki: Pki) -> None:
    crl = RevocationList.load(pki.crl_path, pki.anchors())
    assert crl.check(pki.certificate("revoked")).status is Revocation.REVOKED
    assert crl.check(pki.certificate("consumer")).status is Revocation.GOOD


def test_files_are_private_and_directories_closed(pki: Pki) -> None:
    assert stat.S_IMODE(pki.directory.stat().st_mode) == 0o700
    for path in pki.directory.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path
    assert not [p for p in pki.directory.parent.iterdir() if p.name.startswith(".pki")]


def test_init_refuses_an_existing_pki_without_force(tmp_path: Path) -> None:
    first = Pki.init(tmp_path / "pki")
    with pytest.raises(InputError, match="--force"):
        Pki.init(tmp_path / "pki")
    second = Pki.init(tmp_path / "pki", force=True)
    assert second.entry("root").sha256 != first.entry("root").sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pki"]


def test_issue_and_revoke_update_manifest_and_crl(tmp_path: Path) -> None:
    own = Pki.init(tmp_path / "pki")
    entry = own.issue("vendor", "db42.vendor.test", ou="300000000420042", organisation="VENDOR")
    cert = own.certificate("vendor")
    assert _cn(cert) == "db42.vendor.test"
    assert Pki.open(own.directory).entry("vendor").serial == entry.serial
    with pytest.raises(InputError, match="already exists"):
        own.issue("vendor", "x.test", ou="300000000420042", organisation="V")
    with pytest.raises(InputError, match="IDNST"):
        own.issue("other", "x.test", ou="12345", organisation="V")
    with pytest.raises(InputError, match="lowercase"):
        own.issue("Bad Name", "x.test", ou="300000000420042", organisation="V")
    own.revoke("vendor")
    crl = RevocationList.load(own.crl_path, own.anchors())
    assert crl.check(cert).status is Revocation.REVOKED
    assert crl.crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    with pytest.raises(InputError, match="already revoked"):
        own.revoke("vendor")
    with pytest.raises(InputError, match="no certificate named"):
        own.revoke("nobody")


def test_open_without_pki_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="pki init"):
        Pki.open(tmp_path / "nothing")


def _usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_the_evidence_signer_is_a_role_of_its_own(pki: Pki) -> None:
    evidence = pki.certificate("evidence-signer")
    assert [u.dotted_string for u in _usages(evidence)] == ["1.3.6.1.5.5.7.3.36"]
    with pytest.raises(x509.ExtensionNotFound):
        evidence.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert _usages(pki.certificate("whitelist-signer")) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    for name in ("source", "consumer", "wrong-usage", "revoked", "unlisted"):
        assert x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36") not in _usages(pki.certificate(name))
    assert pki.entry("evidence-signer").role == "evidence-signer"
