"""A whitelist with a DTD is malformed (WL-001) even when its signature would verify, and
`whitelist sign` refuses a key that is not its certificate's."""

from __future__ import annotations

from pathlib import Path

import pytest

from drimlab.cli import run
from drimlab.config import Settings
from drimlab.errors import InputError
from drimlab.facts.whitelist import SignerExpectation
from drimlab.trust.pki import Pki
from drimlab.trust.whitelist import inspect_whitelist
from drimlab.trust.whitelist_sign import sign_whitelist
from drimlab.validation.engine import validate_whitelist
from drimlab.validation.report import Verdict
from tests.trust.conftest import bench_list

BENCH_SIGNER = SignerExpectation("TEST Liste Blanche DRIM-M DRIMLAB", "300000000990037")


def _insert_doctype(signed: bytes, doctype: bytes) -> bytes:
    end = signed.index(b"?>") + 2
    return signed[:end] + b"\n" + doctype + signed[end:]


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE ListeBlancheDRIM-M SYSTEM "http://127.0.0.1:9/list.dtd">',
        b'<!DOCTYPE ListeBlancheDRIM-M [<!ENTITY x SYSTEM "file:///etc/hostname">]>',
    ],
)
def test_a_signed_list_with_an_injected_dtd_is_malformed(pki: Pki, doctype: bytes) -> None:
    signed = bench_list(pki)
    genuine = validate_whitelist(
        inspect_whitelist(signed, anchors=pki.anchors(), expected=BENCH_SIGNER).facts
    )
    assert genuine.verdict is Verdict.PASSED, genuine.findings
    tampered = _insert_doctype(signed, doctype)
    report = validate_whitelist(
        inspect_whitelist(tampered, anchors=pki.anchors(), expected=BENCH_SIGNER).facts
    )
    assert report.verdict is Verdict.FAILED
    assert [f.rule for f in report.findings] == ["WL-001"]
    assert "DOCTYPE" in report.findings[0].message


def test_signing_with_a_key_that_is_not_the_certificates_is_refused(pki: Pki) -> None:
    data = bench_list(pki)
    with pytest.raises(InputError, match="does not match the certificate"):
        sign_whitelist(
            data,
            pki.certificate("whitelist-signer"),
            pki.key_path("consumer").read_bytes(),
            [pki.certificate("organisations"), pki.certificate("root")],
        )


def test_whitelist_sign_refuses_a_mismatched_key_in_one_line(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = settings.home
    pki = Pki.init(settings.pki_dir)
    assert run(["whitelist", "make"]) == 0
    # the signer's key file replaced by another certificate's key
    pki.key_path("whitelist-signer").write_bytes(pki.key_path("consumer").read_bytes())
    output = tmp_path / "signed.xml"
    code = run(["whitelist", "sign", str(home / "pki" / "whitelist.xml"), str(output)])
    captured = capsys.readouterr()
    assert code != 0
    assert "does not match the certificate" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert not output.exists()
