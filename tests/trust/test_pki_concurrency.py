"""Concurrent changes to one test PKI all land: issue, revoke and CRL re-signing take turns."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from drimlab.trust.pki import Pki
from drimlab.trust.pki_lock import pki_lock
from drimlab.trust.pki_verify import Revocation, RevocationList


def _wait_all(processes: list[subprocess.Popen[str]]) -> list[str]:
    outputs = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0, out
        outputs.append(out)
    return outputs


def test_eight_concurrent_issues_then_revokes_all_land(tmp_path: Path) -> None:
    home = tmp_path / "home"
    pki = Pki.init(home / "pki")
    names = [f"box-{i}" for i in range(8)]
    drimlab = str(Path(sys.executable).with_name("drimlab"))
    _wait_all(
        [
            subprocess.Popen(
                [
                    *(drimlab, "--home", str(home), "pki", "issue", name),
                    *("--host", f"{name}.vendor.test", "--ou", "300000000770077"),
                    *("--organisation", "VENDOR"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name in names
        ]
    )
    pki.reload()
    assert {e.name for e in pki.entries} >= set(names)
    serials = {pki.certificate(name).serial_number for name in names}
    assert len(serials) == 8

    outputs = _wait_all(
        [
            subprocess.Popen(
                [drimlab, "--home", str(home), "pki", "revoke", name],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for name in names
        ]
    )
    assert all("CRL updated" in out for out in outputs)
    crl = RevocationList.load(pki.crl_path, pki.anchors())
    for name in names:
        assert crl.check(pki.certificate(name)).status is Revocation.REVOKED, name
    assert crl.check(pki.certificate("revoked")).status is Revocation.REVOKED
    assert crl.check(pki.certificate("consumer")).status is Revocation.GOOD
    pki.reload()
    assert all(pki.entry(name).revoked_at for name in names)
    listed = {revoked.serial_number for revoked in crl.crl}
    assert serials <= listed  # all eight serials in the one CRL


def test_a_refresh_waits_for_a_change_in_progress(tmp_path: Path) -> None:
    pki = Pki.init(tmp_path / "pki")
    other = Pki.open(pki.directory)  # a second handle, as another command would hold
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with pki_lock(pki.directory):
            entered.set()
            release.wait(30)
            pki.revoke("consumer")

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(30)
    refresher = threading.Thread(target=other.refresh_crl)
    refresher.start()
    refresher.join(0.3)
    assert refresher.is_alive()  # waiting for the lock
    release.set()
    holder.join(30)
    refresher.join(30)
    # the refresh worked from the manifest as the revocation left it
    crl = RevocationList.load(pki.crl_path, pki.anchors())
    assert crl.check(pki.certificate("consumer")).status is Revocation.REVOKED
