"""Bearer tokens never live in an Exchange: their facts do, and the DRIM rules judge those
the same way live, from the store and from a bundle's JSON."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from drimlab.exchange import Exchange
from drimlab.facts.credentials import credential_facts, is_redacted, redact
from drimlab.store import Store
from drimlab.store.records import load_exchange, save_exchange
from drimlab.validation.engine import validate_request

TARGET = "/dicom-web/studies/1.2.3/series/1.2.3.4"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jwt(claims: dict[str, object]) -> str:
    return f"{_b64({'alg': 'RS256', 'kid': 'k1'})}.{_b64(claims)}.c2lnbmF0dXJl"


SECRET_SUB = "899700000001-practitioner"
LIVE = jwt({"exp": 4102444800, "sub": SECRET_SUB, "iss": "https://psc.example"})
EXPIRED = jwt({"exp": 1600000000, "sub": SECRET_SUB})
VALUES = [
    f"Bearer {LIVE}",
    f"Bearer {EXPIRED}",
    "Bearer eyJhbGciOiJSUzI1NiIsInR5cCIgO",  # the ANS samples' truncated token
    "Bearer not a token",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "bearer-without-scheme",
]


def request(value: str) -> Exchange:
    return Exchange(
        method="GET",
        target=TARGET,
        request_headers=(("Host", "source"), ("Authorization", value)),
        timings={"started_at": 1767225600.0},
    )


def drim_findings(exchange: Exchange) -> list[tuple[str, str, str]]:
    report = validate_request(exchange, "drim-m")
    return sorted(
        (f.rule, f.severity.value, f.message) for f in report.findings if f.rule < "DRIM-005"
    )


def test_an_exchange_never_holds_the_token() -> None:
    exchange = request(f"Bearer {LIVE}")
    value = exchange.request_header("Authorization")
    assert value is not None and is_redacted(value)
    assert LIVE not in json.dumps(exchange.as_dict())
    assert SECRET_SUB not in json.dumps(exchange.as_dict())
    facts = exchange.credentials
    assert facts is not None
    assert facts.sha256 == hashlib.sha256(LIVE.encode()).hexdigest()
    assert facts.length == len(LIVE)
    assert dict(facts.claims) == {"exp": 4102444800, "iss": "https://psc.example"}
    assert dict(facts.header) == {"alg": "RS256", "kid": "k1"}
    assert value == f"Bearer [redacted sha256:{facts.sha256} length:{len(LIVE)}]"


def test_redaction_is_idempotent_and_keeps_no_part_of_the_credential() -> None:
    for value in VALUES:
        once = redact(value)
        assert redact(once) == once
        secret = value.partition(" ")[2].strip() or value
        assert secret not in once, value


@pytest.mark.parametrize("value", VALUES)
def test_drim_token_rules_judge_the_same_live_stored_and_from_json(
    value: str, store: Store
) -> None:
    live = request(value)
    expected = drim_findings(live)
    through_json = Exchange.from_dict(json.loads(json.dumps(live.as_dict())))
    assert drim_findings(through_json) == expected
    stored = load_exchange(store, save_exchange(store, live))
    assert drim_findings(stored) == expected
    rebuilt = Exchange(**{**stored.__dict__})  # rebuilt from an already redacted exchange
    assert drim_findings(rebuilt) == expected


def test_the_token_rules_still_see_each_fault() -> None:
    def rules(value: str) -> set[str]:
        return {rule for rule, _, _ in drim_findings(request(value))}

    assert rules(f"Bearer {LIVE}") == set()
    assert rules(f"Bearer {EXPIRED}") == {"DRIM-004"}
    assert rules("Bearer eyJhbGciOiJSUzI1NiIsInR5cCIgO") == {"DRIM-003"}
    assert rules("Basic dXNlcjpwYXNz") == {"DRIM-002"}
    assert rules("Bearer not a token") == {"DRIM-002", "DRIM-003"}


def test_stored_rows_hold_no_token(store: Store) -> None:
    exchange_id = save_exchange(store, request(f"Bearer {LIVE}"))
    database = Path(store.settings.home / "drimlab.db")
    store.close()
    raw = b"".join(p.read_bytes() for p in database.parent.glob("drimlab.db*"))
    assert LIVE.encode() not in raw
    assert LIVE.split(".")[1].encode() not in raw  # not even the claims' encoding
    assert exchange_id.encode() in raw


def test_a_redacted_value_is_never_taken_for_a_token() -> None:
    assert not credential_facts(redact(f"Bearer {LIVE}")).b64token
    exchange = request(redact(f"Bearer {LIVE}"))
    assert exchange.credentials is None  # no facts are made up from a redaction


def test_rows_stored_before_redaction_are_redacted_by_the_migration(settings) -> None:
    """A row written with the token in clear (as before): the upgrade leaves only its facts."""
    import sqlalchemy as sa
    from alembic import command

    from drimlab.store.db import alembic_config

    old = Store(settings)
    command.upgrade(alembic_config(old.engine), "0005")
    clear = [["Host", "source"], ["Authorization", f"Bearer {EXPIRED}"]]
    live = request(f"Bearer {EXPIRED}")
    facts = {**live.as_dict(), "request_headers": clear}
    del facts["credentials"]  # what an earlier version stored
    table = sa.table(
        "exchanges",
        *(sa.column(n, sa.String) for n in ("id", "origin", "method", "target", "note")),
        *(sa.column(n, sa.JSON) for n in ("request_headers", "response_headers", "parts")),
        *(sa.column(n, sa.JSON) for n in ("peer", "timings", "facts")),
        sa.column("created_at", sa.DateTime),
    )
    with old.engine.begin() as connection:
        connection.execute(
            table.insert().values(
                id="old-row", origin="file", method="GET", target=TARGET, note="",
                request_headers=clear, response_headers=[], parts=[], peer={},
                timings=dict(live.timings), facts=facts, created_at=sa.func.now(),
            )
        )  # fmt: skip
    old.migrate()
    stored = load_exchange(old, "old-row")
    old.close()
    assert stored.credentials is not None and stored.credentials.claims.get("exp") == 1600000000
    assert drim_findings(stored) == drim_findings(live)
    raw = b"".join(p.read_bytes() for p in settings.home.glob("drimlab.db*"))
    assert EXPIRED.encode() not in raw
