"""Evidence that cannot be forged: a bundle whose manifest was changed and re-signed by any
key but a designated evidence signer's (or one the monitor pinned) is FAILED naming the
signer; times are the verifier's; an unpinned signer is shown as self-attested."""

from __future__ import annotations

import base64
import html
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from drimlab.cli import run
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.monitor import MonitorVerdict, Verification, verify_bundle
from drimlab.scenarios.runs import RunState
from drimlab.scenarios.signing import MonitorTrust, Signer
from drimlab.scenarios.summary import render_verification
from drimlab.trust.pki import Pki
from drimlab.trust.pki_verify import RevocationList
from tests.scenarios.conftest import Bench
from tests.scenarios.test_evidence import rewrite, run_source_scenario

FORGERS = {
    # PKI name -> the EVIDENCE rules that must name it
    "consumer": {"EVIDENCE-003"},
    "source": {"EVIDENCE-003"},
    "unlisted": {"EVIDENCE-003"},
    "wrong-usage": {"EVIDENCE-003"},
    "revoked": {"EVIDENCE-003", "EVIDENCE-007"},
    "organisations": {"EVIDENCE-004"},
    "root": {"EVIDENCE-004"},
}


@pytest.fixture(scope="module")
def genuine(
    bench: Bench, source_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, RunState]:
    folder = tmp_path_factory.mktemp("forged")
    log = folder / "source.log"
    log.write_text("200 OK\n", encoding="utf-8")
    done = run_source_scenario(bench, source_url, log)
    target = folder / "genuine.zip"
    export_bundle(bench.store, done.id, target, Signer.from_pki(bench.env.pki))
    return target, done


def trust_of(pki: Pki, **changes: Any) -> MonitorTrust:
    crl = RevocationList.load(pki.crl_path, pki.anchors())
    return MonitorTrust(tuple(pki.anchors()), crl, **changes)


def signer_of(pki: Pki, name: str) -> Signer:
    """Any key of the PKI with its chain, taken as is (the exporter's own checks bypassed)."""
    key = serialization.load_pem_private_key(pki.key_path(name).read_bytes(), password=None)
    entry = pki.entry(name)
    chain_file = pki.path(entry.chain) if entry.chain else pki.cert_path(name)
    chain = tuple(x509.load_pem_x509_certificates(chain_file.read_bytes()))
    return Signer(key, chain)  # type: ignore[arg-type]


def resign(source: Path, target: Path, signer: Signer, **manifest_changes: Any) -> Path:
    """The bundle with its manifest changed (system under test, base URL...) and re-signed."""

    def change(name: str, data: bytes) -> bytes | None:
        if name in ("manifest.sig", "signer.pem"):
            return None
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest.update(manifest_changes)
            manifest["sut"] = {"subject": "CN=forged.example,OU=300000000990099"}
            manifest["run"]["inputs"]["base_url"] = "https://forged.example/dicom-web"
            return json.dumps(manifest, indent=2).encode()
        return data

    rewrite(source, target, change)
    with zipfile.ZipFile(target) as archive:
        data = archive.read("manifest.json")
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("manifest.sig", base64.b64encode(signer.sign(data)) + b"\n")
        archive.writestr("signer.pem", signer.chain_pem())
    return target


def codes(result: Verification) -> set[str]:
    return {f.split(" ")[0] for f in result.failures}


def test_a_genuine_bundle_verifies_and_is_shown_as_self_attested(
    bench: Bench, genuine: tuple[Path, RunState]
) -> None:
    path, _ = genuine
    result = verify_bundle(path, trust=trust_of(bench.env.pki))
    assert result.verdict is MonitorVerdict.VERIFIED, result.failures
    attestation = result.attestation("en")
    assert attestation is not None
    assert attestation["kind"] == "self-attested"
    assert attestation["signer"].startswith("CN=TEST Banc DRIMLAB Preuves")
    assert "not an independent attestation" in attestation["text"]
    french = result.attestation("fr")
    assert french is not None and "auto-attesté" in french["text"]
    assert any(n.startswith("EVIDENCE-010 self-attested") for n in result.notices)
    for language, words in (("en", "self-attested"), ("fr", "auto-attesté")):
        page = render_verification(result, language)
        assert f'<html lang="{language}">' in page
        assert words in page and "TEST Banc DRIMLAB Preuves" in page
    assert result.as_dict()["attestation"]["kind"] == "self-attested"


def test_a_bundle_holds_no_bearer_token_in_clear(genuine: tuple[Path, RunState]) -> None:
    """The run's retrievals carried the bench's tokens: none is in the bundle."""
    with zipfile.ZipFile(genuine[0]) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    exchanges = [
        d for n, d in members.items() if n.startswith("exchanges/") and n.endswith(".json")
    ]
    assert exchanges and all(b"Bearer [redacted sha256:" in d for d in exchanges)
    for name, data in members.items():
        assert b"Bearer ey" not in data, name


@pytest.mark.parametrize("forger", sorted(FORGERS))
def test_a_bundle_re_signed_by_any_other_key_fails_naming_the_signer(
    bench: Bench, genuine: tuple[Path, RunState], tmp_path: Path, forger: str
) -> None:
    pki = bench.env.pki
    forged = resign(genuine[0], tmp_path / f"{forger}.zip", signer_of(pki, forger))
    result = verify_bundle(forged, trust=trust_of(pki))
    assert result.verdict is MonitorVerdict.FAILED
    assert codes(result) == FORGERS[forger], result.failures
    subject = pki.certificate(forger).subject.rfc4514_string()
    assert all(subject in f for f in result.failures), result.failures
    assert result.attestation() is None and result.signer is None
    page = html.unescape(render_verification(result, "fr"))
    assert subject in page and "Pourquoi il a échoué" in page


def test_the_same_forgery_is_refused_through_the_cli(
    bench_cli: Bench, genuine: tuple[Path, RunState], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    pki = bench_cli.env.pki
    forged = resign(genuine[0], tmp_path / "consumer.zip", signer_of(pki, "consumer"))
    assert run(["evidence", "verify", str(forged)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: EVIDENCE-003 the bundle is signed by CN=consumer.drimlab.test" in out
    assert run(["evidence", "verify", str(genuine[0]), "--lang", "fr"]) == 0
    assert "auto-attesté" in capsys.readouterr().out


def test_the_exporter_refuses_a_key_made_for_another_purpose(
    bench_cli: Bench, genuine: tuple[Path, RunState], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    pki = bench_cli.env.pki
    _, done = genuine
    for name in ("consumer", "organisations"):
        entry = pki.entry(name)
        chain = pki.path(entry.chain) if entry.chain else pki.cert_path(name)
        target = tmp_path / f"{name}.zip"
        code = run(
            ["evidence", "export", done.id, str(target), "--key", str(pki.key_path(name)),
             "--cert", str(chain)]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code == 2 and not target.exists()
        assert len(err.strip().splitlines()) == 1
        assert "cannot sign evidence" in err or "not an evidence-signing certificate" in err


def test_a_revoked_or_expired_evidence_signer_never_verifies(
    bench: Bench, genuine: tuple[Path, RunState], tmp_path: Path
) -> None:
    pki = bench.env.pki
    for name in ("evidence-revoked", "evidence-short"):
        pki.issue(
            name,
            "evidence.drimlab.test",
            ou="300000000990037",
            organisation="DRIMLAB TEST",
            usages=("evidence",),
            valid_days=1,
        )
    pki.revoke("evidence-revoked")
    revoked = resign(genuine[0], tmp_path / "r.zip", Signer.from_files(
        pki.key_path("evidence-revoked"), pki.chain_path("evidence-revoked")))  # fmt: skip
    result = verify_bundle(revoked, trust=trust_of(pki))
    assert codes(result) == {"EVIDENCE-007"}, result.failures
    # Valid one day: verified three days later it has expired, whatever the manifest claims.
    short = Signer.from_files(pki.key_path("evidence-short"), pki.chain_path("evidence-short"))
    bundle = resign(genuine[0], tmp_path / "s.zip", short)
    assert verify_bundle(bundle, trust=trust_of(pki)).verdict is MonitorVerdict.VERIFIED
    later = datetime.now(UTC) + timedelta(days=3)
    result = verify_bundle(bundle, trust=trust_of(pki, at=later))
    assert codes(result) == {"EVIDENCE-006"}, result.failures
    assert "at the verifier's time" in result.failures[0]
    # A back-dated or future claim in the manifest is made up.
    for claim in ("2020-01-01T00:00:00+00:00", "2031-01-01T00:00:00+00:00"):
        dated = resign(genuine[0], tmp_path / "d.zip", short, created_at=claim)
        assert codes(verify_bundle(dated, trust=trust_of(pki))) == {"EVIDENCE-009"}


def test_a_pinned_signer_is_an_independent_attestation(
    bench: Bench, genuine: tuple[Path, RunState], tmp_path: Path
) -> None:
    pki = bench.env.pki
    pin = MonitorTrust.pin(pki.certificate("evidence-signer"), "ANS homologation")
    result = verify_bundle(genuine[0], trust=trust_of(pki, pinned=(pin,)))
    assert result.verdict is MonitorVerdict.VERIFIED
    attestation = result.attestation("fr")
    assert attestation is not None and attestation["kind"] == "programme"
    assert "attestation indépendante" in attestation["text"]
    assert "ANS homologation" in attestation["text"]
    assert not any(n.startswith("EVIDENCE-010") for n in result.notices)
    # pinned alone, without anchors: the pin is the trust
    alone = verify_bundle(genuine[0], trust=MonitorTrust(pinned=(pin,)))
    assert codes(alone) == set() and alone.attestation() is not None
