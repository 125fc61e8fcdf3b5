"""The bench's test PKI on disk: an IGC-Santé-shaped hierarchy, its CRL and a negative set.

Layout under `Settings.pki_dir` (directories 0700, files 0600, every write atomic):

    manifest.json              every certificate with its role and what a DRIMBox must do with it
    ca/root.pem                TEST AC RACINE DRIMLAB (self-signed)
    ca/organisations.pem       TEST AC DRIMLAB ORGANISATIONS (issues every organisation certificate)
    ca/bundle.pem              both: the trust anchors to configure in a DRIMBox under test
    ca/rogue-*.pem             the look-alike hierarchy (same names, other keys)
    certs/<name>.pem           a leaf certificate; certs/<name>.chain.pem leaf + intermediate
    private/<name>.key         its private key (PKCS#8, unencrypted: a test PKI)
    crl/organisations.crl      the intermediate's CRL (DER), re-signed on every revocation

Every change (`init`, `issue`, `revoke`, `refresh_crl`) holds the PKI's file lock
(`drimlab.trust.pki_lock`) and works from the manifest as it is on disk at that moment, so
concurrent changes from several processes all land. The manifest is written before the CRL:
it is what the CRL is made from, so a process stopped between the two leaves a CRL that the
next change rebuilds complete.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from drimlab.errors import ConfigurationError, InputError
from drimlab.trust import pki_x509 as px
from drimlab.trust.pki_files import (
    DEFAULT_CONSUMER_HOST,
    DEFAULT_CRL_URL,
    DEFAULT_SOURCE_HOST,
    FORMAT,
    LEAF_DAYS,
    MANIFEST,
    NAME,
    SIGNER_CN,
    SIGNER_OU,
    Builder,
    PkiEntry,
    check_idnst,
    crl_for,
    hosts_for,
    now_utc,
    store_leaf,
    swap_in,
    write_file,
)
from drimlab.trust.pki_lock import pki_lock

__all__ = [
    "DEFAULT_CONSUMER_HOST",
    "DEFAULT_CRL_URL",
    "DEFAULT_SOURCE_HOST",
    "LEAF_DAYS",
    "SIGNER_CN",
    "SIGNER_OU",
    "Pki",
    "PkiEntry",
    "write_file",
]


class Pki:
    """A test PKI directory with its manifest; `Pki.open` or `Pki.init` make one."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.directory = directory
        self._manifest = manifest
        self.entries = tuple(PkiEntry.from_dict(e) for e in manifest["certificates"])

    # -- opening and creating -------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path) -> Pki:
        return cls(directory, _read_manifest(directory))

    def reload(self) -> None:
        """Read the manifest again (another process may have changed the PKI)."""
        manifest = _read_manifest(self.directory)
        self._manifest = manifest
        self.entries = tuple(PkiEntry.from_dict(e) for e in manifest["certificates"])

    @classmethod
    def init(
        cls,
        directory: Path,
        *,
        force: bool = False,
        at: datetime | None = None,
        source_host: str = DEFAULT_SOURCE_HOST,
        consumer_host: str = DEFAULT_CONSUMER_HOST,
        crl_url: str = DEFAULT_CRL_URL,
    ) -> Pki:
        """Create the hierarchy, the DRIMBox and signer certificates and the negative set."""
        if not crl_url.startswith("http://"):
            raise InputError(f"CRL URL {crl_url!r} must be plain http:// (as IGC-Santé's are)")
        directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with pki_lock(directory):
            if (directory / MANIFEST).exists() and not force:
                raise InputError(
                    f"a test PKI already exists at {directory}: use --force to replace it"
                )
            for leftover in (
                *directory.parent.glob(f".{directory.name}.new-*"),
                *directory.parent.glob(f".{directory.name}.old-*"),
            ):  # what a killed init left (only an init makes them, under this lock)
                shutil.rmtree(leftover, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.new-"))
            try:
                Builder(staging, now_utc(at), source_host, consumer_host, crl_url).build()
                swap_in(staging, directory)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            return cls.open(directory)

    # -- reading ---------------------------------------------------------------------------

    @property
    def crl_url(self) -> str:
        return str(self._manifest["crl_url"])

    def entry(self, name: str) -> PkiEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise InputError(f"no certificate named {name!r} in the test PKI at {self.directory}")

    def path(self, relative: str) -> Path:
        return self.directory / relative

    def cert_path(self, name: str) -> Path:
        return self.path(self.entry(name).cert)

    def key_path(self, name: str) -> Path:
        key = self.entry(name).key
        if key is None:
            raise InputError(f"the test PKI keeps no private key for {name!r}")
        return self.path(key)

    def chain_path(self, name: str) -> Path:
        entry = self.entry(name)
        return self.path(entry.chain or entry.cert)

    @property
    def bundle_path(self) -> Path:
        """The trust anchors (root + organisations CA) as one PEM file."""
        return self.path("ca/bundle.pem")

    @property
    def crl_path(self) -> Path:
        return self.path("crl/organisations.crl")

    def certificate(self, name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path(name).read_bytes())

    def anchors(self) -> list[x509.Certificate]:
        return [self.certificate("root"), self.certificate("organisations")]

    def crl(self) -> x509.CertificateRevocationList:
        return x509.load_der_x509_crl(self.crl_path.read_bytes())

    def _key(self, name: str) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.key_path(name).read_bytes(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigurationError(f"the key of {name!r} is not RSA")
        return key

    # -- changing --------------------------------------------------------------------------

    def issue(
        self,
        name: str,
        host: str,
        *,
        ou: str,
        organisation: str,
        state: str | None = None,
        usages: Sequence[str] = ("server", "client"),
        valid_days: int = LEAF_DAYS,
        at: datetime | None = None,
        subject_name: x509.Name | None = None,
    ) -> PkiEntry:
        """Issue a new organisation certificate from the organisations CA.

        `subject_name` replaces the IGC-Santé-shaped subject built from host, OU, O and ST
        (tests use it to issue a certificate whose subject is shaped wrongly on purpose).
        """
        if not NAME.match(name):
            raise InputError(f"certificate name {name!r}: use lowercase letters, digits and -")
        check_idnst(ou)
        if valid_days < 1:
            raise InputError(f"validity {valid_days} days: must be at least 1")
        key = px.new_key()  # the slow part, outside the lock
        with pki_lock(self.directory):
            self.reload()
            if any(e.name == name for e in self.entries):
                raise InputError(f"a certificate named {name!r} already exists in the test PKI")
            now = now_utc(at)
            cert = px.leaf_certificate(
                px.Subject(host, ou, organisation, state),
                key,
                issuer=self.certificate("organisations"),
                issuer_key=self._key("organisations"),
                not_before=now - px.days(1 / 24),
                not_after=now + px.days(valid_days),
                hosts=hosts_for(host),
                usages=usages,
                crl_url=self.crl_url,
                subject_name=subject_name,
            )
            evidence = "evidence" in usages
            entry = store_leaf(
                self.directory,
                name=name,
                role="evidence-signer" if evidence else "drimbox",
                cert=cert,
                key=key,
                issuer=self.certificate("organisations"),
                expect="signs evidence bundles"
                if evidence
                else "accepted when listed on the whitelist",
            )
            self._commit([*self.entries, entry])
        return entry

    def revoke(self, name: str, *, at: datetime | None = None) -> PkiEntry:
        """Revoke a leaf of the organisations CA and re-sign the CRL."""
        with pki_lock(self.directory):
            self.reload()
            entry = self.entry(name)
            if entry.role not in {"drimbox", "negative", "whitelist-signer", "evidence-signer"}:
                raise InputError(
                    f"{name!r} is a {entry.role}: only organisation certificates revoke"
                )
            if entry.name == "rogue":
                raise InputError("'rogue' was not issued by this PKI: it cannot be revoked here")
            if entry.revoked_at is not None:
                raise InputError(f"{name!r} is already revoked (since {entry.revoked_at})")
            now = now_utc(at)
            revoked = replace(entry, revoked_at=now.isoformat())
            self._commit([revoked if e.name == name else e for e in self.entries], crl_at=now)
        return revoked

    def refresh_crl(self, *, at: datetime | None = None) -> None:
        """Re-sign the CRL with a new thisUpdate/nextUpdate window."""
        with pki_lock(self.directory):
            self.reload()
            self._commit(list(self.entries), crl_at=now_utc(at))

    def _commit(self, entries: Sequence[PkiEntry], *, crl_at: datetime | None = None) -> None:
        """Write the manifest with `entries`, then (with `crl_at`) the CRL made from them."""
        manifest = dict(self._manifest)
        if crl_at is not None:
            manifest["crl_number"] = int(manifest.get("crl_number", 0)) + 1
        manifest["certificates"] = [e.as_dict() for e in entries]
        data = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
        write_file(self.directory / MANIFEST, data)
        self._manifest = manifest
        self.entries = tuple(entries)
        if crl_at is not None:
            crl = crl_for(
                self.certificate("organisations"),
                self._key("organisations"),
                entries,
                crl_at,
                int(manifest["crl_number"]),
            )
            write_file(self.crl_path, crl.public_bytes(serialization.Encoding.DER))


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise ConfigurationError(f"no test PKI at {directory}: run `drimlab pki init` first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"unknown manifest format {manifest.get('format')!r}")
        [PkiEntry.from_dict(e) for e in manifest["certificates"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"unreadable PKI manifest {path}: {exc}") from None
    return dict(manifest)
