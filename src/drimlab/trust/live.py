"""The trust state a running server holds: its whitelist and CRL, kept current while it serves.

A DRIMBox source checks each client against the whitelist and the CRL *as they are now*: a
certificate revoked with `drimlab pki revoke`, or a list re-signed with `drimlab whitelist
sign|make`, must count from the next request, not from the next restart. `LiveTrust` watches
both files (inode, size and modification time, looked at before each request: a `stat`, no
read) and reloads the one that changed, in a worker thread; the PKI commands replace files
atomically, so a reload never sees half a file. A file that cannot be read any more keeps the
state loaded before, and says so.

The CRL also ages. When the bench can sign it (its own test PKI), `LiveTrust` re-signs it once
half of its validity has passed (3.5 days of the 7), so its nextUpdate is never reached.
A CRL the bench cannot sign (another PKI's, or its own without the CA key) becomes stale at
its nextUpdate; what then is a documented choice, `StalePolicy`:

- `refuse` (the default, what RFC 5280 asks when no current CRL is available): every client
  is refused 403 `certificate-revocation-unknown`, reported by TLS-008 (error);
- `warn`: clients are admitted, their exchanges carry TLS-008 as a warning.

Either way the console says it at once (`notify`), when the CRL goes stale: never a silent
outage. The time is `clock()`, so tests can move it instead of waiting for days.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from cryptography import x509

from drimlab.errors import DrimlabError
from drimlab.trust.pki_verify import RevocationList
from drimlab.trust.whitelist import Whitelist, load_whitelist

Clock = Callable[[], datetime]
FileStamp = tuple[int, int, int]  # inode, size, modification time (ns)


class StalePolicy(StrEnum):
    """What the server does with clients while its CRL is past its nextUpdate."""

    REFUSE = "refuse"
    WARN = "warn"


@dataclass(frozen=True)
class TrustState:
    """One consistent view: the whitelist, the CRL, and the policy for a stale CRL."""

    whitelist: Whitelist | None
    revocation: RevocationList | None
    stale_policy: StalePolicy = StalePolicy.REFUSE

    @property
    def accept_stale_crl(self) -> bool:
        return self.stale_policy is StalePolicy.WARN


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(path: Path | None) -> FileStamp | None:
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class LiveTrust:
    """A server's whitelist and CRL, reloaded when their files change, the CRL kept fresh."""

    def __init__(
        self,
        *,
        whitelist_path: Path | None,
        crl_path: Path | None,
        crl_issuers: Sequence[x509.Certificate] = (),
        resign: Callable[[datetime], None] | None = None,
        stale_policy: StalePolicy = StalePolicy.REFUSE,
        clock: Clock = _now,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.whitelist_path = whitelist_path
        self.crl_path = crl_path
        self.crl_issuers = tuple(crl_issuers)
        self.clock = clock
        self._resign = resign
        self._notify = notify or (lambda _message: None)
        self._lock = threading.Lock()
        self._stamps = (_stamp(whitelist_path), _stamp(crl_path))
        self._stale_told: datetime | None = None  # the nextUpdate of the stale CRL announced
        self._resign_failed = False
        whitelist = load_whitelist(whitelist_path) if whitelist_path is not None else None
        crl = RevocationList.load(crl_path, self.crl_issuers) if crl_path is not None else None
        self._state = TrustState(whitelist, crl, stale_policy)

    @property
    def state(self) -> TrustState:
        """The state loaded last (cheap; see `due` and `refresh`)."""
        return self._state

    def due(self) -> bool:
        """Cheap: has a file changed, is the CRL to be re-signed, or newly stale?"""
        if (_stamp(self.whitelist_path), _stamp(self.crl_path)) != self._stamps:
            return True
        crl = self._state.revocation
        if crl is None:
            return False
        now = self.clock()
        if self._can_resign and now >= self._resign_at(crl):
            return True
        next_update = crl.next_update
        return next_update is not None and now > next_update and self._stale_told != next_update

    def refresh(self) -> TrustState:
        """Re-sign the CRL if due, reload what changed, announce a stale CRL (blocking I/O)."""
        with self._lock:
            crl = self._state.revocation
            now = self.clock()
            if crl is not None and self._can_resign and now >= self._resign_at(crl):
                self._re_sign(now)
            self._reload()
            self._announce_stale(now)
            return self._state

    # -- helpers ----------------------------------------------------------------------------

    @property
    def _can_resign(self) -> bool:
        return self._resign is not None and not self._resign_failed

    @staticmethod
    def _resign_at(crl: RevocationList) -> datetime:
        """Halfway through the CRL's validity: long before anyone may call it stale."""
        next_update = crl.next_update or crl.this_update
        return crl.this_update + (next_update - crl.this_update) / 2

    def _re_sign(self, now: datetime) -> None:
        assert self._resign is not None
        try:
            self._resign(now)
        except (OSError, DrimlabError, ValueError) as exc:
            self._resign_failed = True
            self._notify(
                f"drimlab: cannot re-sign the CRL {self.crl_path} ({exc}); it will go stale at "
                "its nextUpdate"
            )

    def _reload(self) -> None:
        stamps = (_stamp(self.whitelist_path), _stamp(self.crl_path))
        whitelist, crl = self._state.whitelist, self._state.revocation
        if stamps[0] != self._stamps[0] and self.whitelist_path is not None:
            try:
                whitelist = load_whitelist(self.whitelist_path)
                self._notify(
                    f"drimlab: whitelist reloaded from {self.whitelist_path} "
                    f"({len(whitelist.domains)} domains)"
                )
            except DrimlabError as exc:
                self._notify(f"drimlab: {exc}; keeping the whitelist loaded before")
        if stamps[1] != self._stamps[1] and self.crl_path is not None:
            try:
                crl = RevocationList.load(self.crl_path, self.crl_issuers)
                self._notify(
                    f"drimlab: CRL reloaded from {self.crl_path} "
                    f"({len(crl.crl)} revoked, nextUpdate {crl.next_update})"
                )
            except DrimlabError as exc:
                self._notify(f"drimlab: {exc}; keeping the CRL loaded before")
        self._stamps = stamps
        self._state = TrustState(whitelist, crl, self._state.stale_policy)

    def _announce_stale(self, now: datetime) -> None:
        crl = self._state.revocation
        next_update = crl.next_update if crl is not None else None
        if next_update is None or now <= next_update or self._stale_told == next_update:
            return
        self._stale_told = next_update
        if self._state.accept_stale_crl:
            what = (
                "clients are admitted, each exchange carrying a TLS-008 warning (--stale-crl warn)"
            )
        else:
            what = (
                "every client is refused 403 (TLS-008) until a fresh CRL is installed "
                "(--stale-crl warn admits them with a warning)"
            )
        self._notify(f"drimlab: the CRL {self.crl_path} is stale since {next_update}: {what}")


__all__ = ["LiveTrust", "StalePolicy", "TrustState"]
