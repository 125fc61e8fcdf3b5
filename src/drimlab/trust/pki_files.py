"""The files of the test PKI: names, the manifest entry, atomic writes and the initial build.

`drimlab.trust.pki.Pki` is the public face; this module holds what it writes and how.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from drimlab.errors import InputError
from drimlab.trust import pki_x509 as px

MANIFEST = "manifest.json"
FORMAT = 1
DEFAULT_CRL_URL = "http://localhost:8080/pki/crl"
DEFAULT_SOURCE_HOST = "localhost"
DEFAULT_CONSUMER_HOST = "consumer.drimlab.test"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
CRL_LIFETIME_DAYS = 7
LEAF_DAYS = 3 * 365

ROOT = px.Subject("TEST AC RACINE DRIMLAB", "DRIMLAB IGC TEST", "DRIMLAB TEST")
ORGANISATIONS = px.Subject("TEST AC DRIMLAB ORGANISATIONS", "DRIMLAB IGC TEST", "DRIMLAB TEST")
SIGNER_CN = "TEST Liste Blanche DRIM-M DRIMLAB"
SIGNER_OU = "300000000990037"
EVIDENCE_SIGNER_CN = "TEST Banc DRIMLAB Preuves"
IDNST = re.compile(r"^3\d{14}$")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class PkiEntry:
    """One certificate of the manifest: where it is, what it is for, what a peer must do."""

    name: str
    role: str
    subject: str
    issuer: str
    serial: str
    not_before: str
    not_after: str
    sha256: str
    cert: str
    key: str | None = None
    chain: str | None = None
    hosts: tuple[str, ...] = ()
    expect: str = ""
    revoked_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hosts"] = list(self.hosts)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PkiEntry:
        return cls(**{**data, "hosts": tuple(data.get("hosts", ()))})


def now_utc(at: datetime | None) -> datetime:
    return (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def write_file(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write atomically (temp file in the same directory, fsync, rename), mode 0600 by default."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_idnst(ou: str) -> str:
    """An IDNST of a company: `3` followed by its 14-digit SIRET."""
    if not IDNST.match(ou):
        raise InputError(f"OU {ou!r} is not an IDNST (3 followed by a 14-digit SIRET)")
    return ou


def hosts_for(host: str) -> list[str]:
    return list(dict.fromkeys([host, *LOOPBACK_HOSTS]))


def crl_for(
    issuer: x509.Certificate,
    key: rsa.RSAPrivateKey,
    entries: Sequence[PkiEntry],
    now: datetime,
    number: int,
) -> x509.CertificateRevocationList:
    revoked = [
        (int(e.serial, 16), datetime.fromisoformat(e.revoked_at))
        for e in entries
        if e.revoked_at is not None
    ]
    return px.revocation_list(
        issuer,
        key,
        revoked,
        this_update=now,
        next_update=now + px.days(CRL_LIFETIME_DAYS),
        number=number,
    )


def make_entry(
    name: str,
    role: str,
    cert: x509.Certificate,
    cert_file: str,
    *,
    key_file: str | None = None,
    chain_file: str | None = None,
    expect: str = "",
) -> PkiEntry:
    hosts: tuple[str, ...] = ()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = tuple(str(v) for v in san.get_values_for_type(x509.DNSName)) + tuple(
            str(v) for v in san.get_values_for_type(x509.IPAddress)
        )
    except x509.ExtensionNotFound:
        pass
    return PkiEntry(
        name=name,
        role=role,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
        sha256=px.fingerprint(cert),
        cert=cert_file,
        key=key_file,
        chain=chain_file,
        hosts=hosts,
        expect=expect,
    )


def store_leaf(
    directory: Path,
    *,
    name: str,
    role: str,
    cert: x509.Certificate,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate,
    expect: str,
) -> PkiEntry:
    cert_file, chain_file, key_file = (
        f"certs/{name}.pem",
        f"certs/{name}.chain.pem",
        (f"private/{name}.key"),
    )
    write_file(directory / key_file, px.key_pem(key))
    write_file(directory / cert_file, px.cert_pem(cert))
    write_file(directory / chain_file, px.cert_pem(cert) + px.cert_pem(issuer))
    return make_entry(
        name, role, cert, cert_file, key_file=key_file, chain_file=chain_file, expect=expect
    )


def swap_in(staging: Path, directory: Path) -> None:
    """Replace `directory` by `staging` so a reader never sees a half-built PKI."""
    old: Path | None = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}.old-{os.getpid()}")
        directory.rename(old)
    staging.rename(directory)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


class Builder:
    """Builds a whole PKI into an empty staging directory."""

    def __init__(
        self, root: Path, now: datetime, source_host: str, consumer_host: str, crl_url: str
    ) -> None:
        self.dir = root
        self.now = now
        self.source_host = source_host
        self.consumer_host = consumer_host
        self.crl_url = crl_url
        self.entries: list[PkiEntry] = []

    def _hierarchy(
        self,
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey, x509.Certificate, rsa.RSAPrivateKey]:
        """A root and an organisations CA under it, with fresh keys (genuine or look-alike)."""
        now = self.now
        root_key, org_key = px.new_key(), px.new_key()
        root = px.ca_certificate(
            ROOT,
            root_key,
            issuer=None,
            issuer_key=None,
            not_before=now - px.days(1),
            not_after=now + px.days(20 * 365),
            path_length=1,
        )
        org = px.ca_certificate(
            ORGANISATIONS,
            org_key,
            issuer=root,
            issuer_key=root_key,
            not_before=now - px.days(1),
            not_after=now + px.days(10 * 365),
            path_length=0,
        )
        return root, root_key, org, org_key

    def build(self) -> None:
        os.chmod(self.dir, 0o700)
        now = self.now
        root, root_key, org, org_key = self._hierarchy()
        self._ca("root", "root-ca", root, root_key, "trust anchor of the bench")
        self._ca("organisations", "organisations-ca", org, org_key, "issues every TEST certificate")
        write_file(self.dir / "ca/bundle.pem", px.cert_pem(root) + px.cert_pem(org))

        consumer = px.Subject(
            self.consumer_host, "300000000990029", "DRIMLAB TEST CONSOMMATEUR", "Paris (75)"
        )
        leaf = self._leaf_factory(org, org_key)
        leaf(
            "source",
            "drimbox",
            px.Subject(self.source_host, "300000000990011", "DRIMLAB TEST SOURCE", "Paris (75)"),
            "server simulator certificate; listed on the bench whitelist",
        )
        leaf(
            "consumer",
            "drimbox",
            consumer,
            "client simulator certificate; listed on the bench whitelist",
        )
        leaf(
            "whitelist-signer",
            "whitelist-signer",
            px.Subject(SIGNER_CN, SIGNER_OU, "DRIMLAB TEST", "Paris (75)"),
            "signs the bench whitelist (like the ANS ORG SIGN certificate)",
            signing=True,
        )
        leaf(
            "evidence-signer",
            "evidence-signer",
            px.Subject(EVIDENCE_SIGNER_CN, SIGNER_OU, "DRIMLAB TEST", "Paris (75)"),
            "signs the manifests of drimlab evidence bundles (documentSigning only)",
            usages=("evidence",),
        )
        # The negative set carries the consumer's listed DN so exactly one fault shows.
        leaf(
            "expired",
            "negative",
            consumer,
            "refused: TLS-003 tls-certificate-expired",
            window=(now - px.days(400), now - px.days(30)),
        )
        leaf(
            "not-yet-valid",
            "negative",
            consumer,
            "refused: TLS-004 tls-certificate-not-yet-valid",
            window=(now + px.days(30), now + px.days(400)),
        )
        leaf("revoked", "negative", consumer, "refused: TLS-005 tls-certificate-revoked")
        leaf(
            "wrong-usage",
            "negative",
            consumer,
            "refused: TLS-006 tls-certificate-wrong-usage",
            usages=("server",),
        )
        leaf(
            "unlisted",
            "negative",
            px.Subject(
                "unlisted.drimlab.test",
                "300000000990045",
                "DRIMLAB TEST NON REFERENCE",
                "Paris (75)",
            ),
            "refused: WL-020 whitelist-peer-dn-not-listed",
        )
        self._rogue(consumer)
        revoked_at = now.isoformat()
        self.entries = [
            replace(e, revoked_at=revoked_at) if e.name == "revoked" else e for e in self.entries
        ]
        crl = crl_for(org, org_key, self.entries, now, 1)
        write_file(self.dir / "crl/organisations.crl", crl.public_bytes(serialization.Encoding.DER))
        manifest = {
            "format": FORMAT,
            "created": now.isoformat(),
            "key_algorithm": f"RSA {px.RSA_BITS}, SHA-256 signatures",
            "crl_url": self.crl_url,
            "crl": "crl/organisations.crl",
            "crl_number": 1,
            "bundle": "ca/bundle.pem",
            "certificates": [e.as_dict() for e in self.entries],
        }
        write_file(
            self.dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
        )

    def _ca(
        self,
        name: str,
        role: str,
        cert: x509.Certificate,
        key: rsa.RSAPrivateKey | None,
        expect: str,
    ) -> None:
        cert_file = f"ca/{name}.pem"
        write_file(self.dir / cert_file, px.cert_pem(cert))
        key_file = None
        if key is not None:
            key_file = f"private/{name}.key"
            write_file(self.dir / key_file, px.key_pem(key))
        self.entries.append(
            make_entry(name, role, cert, cert_file, key_file=key_file, expect=expect)
        )

    def _leaf_factory(self, issuer: x509.Certificate, issuer_key: rsa.RSAPrivateKey) -> Any:
        def leaf(
            name: str,
            role: str,
            subject: px.Subject,
            expect: str,
            *,
            window: tuple[datetime, datetime] | None = None,
            usages: Sequence[str] = ("server", "client"),
            signing: bool = False,
        ) -> None:
            start, end = window or (self.now - px.days(1 / 24), self.now + px.days(LEAF_DAYS))
            key = px.new_key()
            cert = px.leaf_certificate(
                subject,
                key,
                issuer=issuer,
                issuer_key=issuer_key,
                not_before=start,
                not_after=end,
                hosts=() if signing or "evidence" in usages else hosts_for(subject.common_name),
                usages=usages,
                crl_url=self.crl_url,
                signing=signing,
            )
            entry = store_leaf(
                self.dir, name=name, role=role, cert=cert, key=key, issuer=issuer, expect=expect
            )
            self.entries.append(entry)

        return leaf

    def _rogue(self, consumer: px.Subject) -> None:
        """A look-alike hierarchy: the same names as the genuine CAs, other keys."""
        root, _, org, org_key = self._hierarchy()
        self._ca("rogue-root", "rogue-ca", root, None, "look-alike root: must not be trusted")
        self._ca(
            "rogue-organisations",
            "rogue-ca",
            org,
            None,
            "look-alike intermediate: must not be trusted",
        )
        self._leaf_factory(org, org_key)(
            "rogue", "negative", consumer, "refused: TLS-002 tls-certificate-untrusted"
        )
