"""Quotas per organisation: usage, the check, the settings and `drimlab admin`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drimlab.cli import run
from drimlab.config import Settings, parse_size
from drimlab.errors import ConfigurationError, InputError
from drimlab.exchange import Exchange
from drimlab.store import Store, accounts
from drimlab.store.quotas import KEEP, check_quota, over_quota, set_quota, usage
from drimlab.store.records import save_exchange, save_report
from drimlab.validation.engine import validate_request


def _exchange(body: bytes = b"") -> Exchange:
    return Exchange(
        method="GET",
        target="/dicom-web/studies/1.2.3",
        request_headers=(("Host", "x"),),
        status=200,
        response_body=body or None,
        origin="client",
    )


def test_usage_counts_exchanges_body_bytes_and_uploaded_inputs(store: Store) -> None:
    org = accounts.create_organisation(store, "Vendor A").id
    other = accounts.create_organisation(store, "Vendor B").id
    save_exchange(store, _exchange(b"x" * 1000), organisation_id=org)
    save_exchange(store, _exchange(b"y" * 24), organisation_id=org)
    save_exchange(store, _exchange(b"z" * 5000), organisation_id=other)
    save_exchange(store, _exchange(b"lab" * 9))  # the lab's own: nobody's quota
    report = validate_request(_exchange())
    save_report(store, report, organisation_id=org, stored_bytes=300)
    assert usage(store, org).exchanges == 2
    assert usage(store, org).bytes == 1000 + 24 + 300
    assert usage(store, other).exchanges == 1


def test_check_uses_the_organisation_quota_else_the_environment_default(
    store: Store, settings: Settings
) -> None:
    org = accounts.create_organisation(store, "Vendor A").id
    save_exchange(store, _exchange(b"x" * 100), organisation_id=org)
    assert not check_quota(store, org).over  # no quota anywhere: the lab on a laptop
    store.settings = replace(settings, quota_exchanges=1)
    state = check_quota(store, org)
    assert state.over and state.over_exchanges and state.quota_exchanges == 1
    assert "quota" in state.reason and "1 of 1 exchanges" in state.reason
    assert over_quota(store, org) == state and over_quota(store, None) is None
    set_quota(store, "Vendor A", exchanges=10)  # its own quota wins over the default
    assert not check_quota(store, org).over
    state = set_quota(store, "Vendor A", exchanges=KEEP, size=50)
    assert state.over_bytes and not state.over_exchanges and "\n" not in state.reason
    set_quota(store, "Vendor A", exchanges=None, size=None)  # back to the defaults
    assert check_quota(store, org).quota_exchanges == 1
    with pytest.raises(InputError):
        set_quota(store, "Nobody", exchanges=1)
    with pytest.raises(InputError):
        set_quota(store, "Vendor A", exchanges=-1)


def test_settings_read_and_refuse_limits_in_one_line() -> None:
    env = {"DRIMLAB_HOME": "/tmp/x", "DRIMLAB_QUOTA_EXCHANGES": "1000"}
    read = Settings.from_env({**env, "DRIMLAB_QUOTA_BYTES": "2G", "DRIMLAB_RETENTION_DAYS": "30"})
    assert (read.quota_exchanges, read.quota_bytes, read.retention_days) == (1000, 2 << 30, 30)
    assert Settings.from_env({"DRIMLAB_HOME": "/tmp/x"}).quota_bytes is None
    assert parse_size("500M") == 500 << 20 and parse_size("1024") == 1024
    for name, bad in (
        ("DRIMLAB_QUOTA_BYTES", "lots"),
        ("DRIMLAB_QUOTA_EXCHANGES", "-3"),
        ("DRIMLAB_RETENTION_DAYS", "0"),
    ):
        with pytest.raises(ConfigurationError) as caught:
            Settings.from_env({"DRIMLAB_HOME": "/tmp/x", name: bad})
        assert name in str(caught.value) and "\n" not in str(caught.value)


def test_admin_sets_and_lists_quotas(
    store: Store, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    org = accounts.create_organisation(store, "Vendor A").id
    save_exchange(store, _exchange(b"x" * 2048), organisation_id=org)
    home = ["--home", str(settings.home)]
    assert run([*home, "admin", "set-quota", "Vendor A", "--exchanges", "5", "--bytes", "1K"]) == 0
    out = capsys.readouterr().out
    assert "exchanges 1 of 5" in out and "2.0 KiB of 1.0 KiB" in out and "OVER QUOTA" in out
    assert run([*home, "admin", "set-quota", "Vendor A", "--bytes", "none"]) == 0
    assert run([*home, "admin", "list-organisations"]) == 0
    out = capsys.readouterr().out
    assert "Vendor A: exchanges 1 of 5, bytes 2.0 KiB (no quota)" in out


def test_admin_quota_environment_default_applies_to_any_home(
    store: Store,
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts.create_organisation(store, "Vendor A")
    monkeypatch.setenv("DRIMLAB_QUOTA_EXCHANGES", "7")
    assert run(["--home", str(settings.home), "admin", "list-organisations"]) == 0
    assert "exchanges 0 of 7" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["set-quota", "Vendor A", "--exchanges", "many"],
        ["set-quota", "Vendor A", "--exchanges", "-1"],
        ["set-quota", "Vendor A", "--bytes", "2 lots"],
        ["set-quota", "Vendor A"],
        ["set-quota", "Nobody", "--exchanges", "3"],
    ],
)
def test_admin_set_quota_refuses_bad_values_in_one_line(
    store: Store, settings: Settings, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    accounts.create_organisation(store, "Vendor A")
    assert run(["--home", str(settings.home), "admin", *argv]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("drimlab: error: ")


def test_a_bad_limit_in_the_environment_is_one_error_line(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIMLAB_QUOTA_BYTES", "plenty")
    assert run(["--home", str(settings.home), "admin", "list-organisations"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "DRIMLAB_QUOTA_BYTES" in lines[0]
