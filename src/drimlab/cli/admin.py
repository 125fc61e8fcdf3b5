"""`drimlab admin`: the accounts of a shared environment (organisations, users, API tokens),
their storage quotas, and the purge of what is older than the retention period.

The first admin is made here; the others can then be made in the portal's Accounts page.
A password is never taken from the command line (it would stay in the shell's history and
the process list): it is asked twice on a terminal, or read as one line from standard input
with `--password-stdin`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import console, fail, state
from drimlab.config import NO_LIMIT, parse_count, parse_size
from drimlab.store import accounts, quotas
from drimlab.store.quotas import KEEP, Keep, QuotaState, format_size
from drimlab.store.retention import purge
from drimlab.trust.pki_verify import load_certificates
from drimlab.trust.pki_x509 import fingerprint

admin_app = typer.Typer(
    help="Organisations, users, API tokens, quotas and retention of a shared environment."
)
MAX_DAYS = 36_500


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            fail("no password on standard input")
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to ask the password on: give it on standard input with --password-stdin")
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Again", hide_input=True) != first:
        fail("the two passwords differ")
    return str(first)


@admin_app.command("create-organisation")
def create_organisation(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Its name, as users see it.")],
    identity: Annotated[
        list[str] | None,
        typer.Option(
            "--identity",
            help="A client certificate's subject DN, or a DNS domain (its CN/SAN), that "
            "attributes exchanges to it (repeatable).",
        ),
    ] = None,
) -> None:
    """Create an organisation (a vendor, or the programme's team)."""
    row = accounts.create_organisation(state(ctx).store, name, tuple(identity or ()))
    console.print(f"organisation {row.name!r} created ({len(row.identities)} identities)")


@admin_app.command("set-identities")
def set_identities(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The organisation.")],
    identity: Annotated[
        list[str] | None, typer.Option("--identity", help="Subject DN or DNS domain (repeatable).")
    ] = None,
) -> None:
    """Replace the client certificate identities of an organisation."""
    row = accounts.set_identities(state(ctx).store, name, tuple(identity or ()))
    console.print(f"organisation {row.name!r}: {len(row.identities)} identities")


@admin_app.command("create-user")
def create_user(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The login (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option(help="vendor | monitor | admin.")] = "vendor",
    organisation: Annotated[
        str | None, typer.Option(help="Their organisation (required for a vendor member).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create a user account."""
    account = accounts.create_user(
        state(ctx).store, login, _password(password_stdin), role, organisation
    )
    where = f" of {account.organisation!r}" if account.organisation else ""
    console.print(f"user {account.login!r} created: {account.role}{where}")


@admin_app.command("set-password")
def set_password(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Change a user's password (their sessions are closed)."""
    accounts.set_password(state(ctx).store, login, _password(password_stdin))
    console.print(f"password of {login!r} changed")


@admin_app.command("disable")
def disable(ctx: typer.Context, login: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Disable an account: no login, its sessions and API tokens stop working."""
    accounts.set_active(state(ctx).store, login, False)
    console.print(f"user {login!r} disabled")


@admin_app.command("enable")
def enable(ctx: typer.Context, login: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Enable a disabled account again."""
    accounts.set_active(state(ctx).store, login, True)
    console.print(f"user {login!r} enabled")


@admin_app.command("create-token")
def create_token(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The user the token acts for.")],
    name: Annotated[str, typer.Option(help="What the token is for (e.g. 'CI').")] = "token",
) -> None:
    """Print a new personal API token of a user (shown once; only its digest is kept)."""
    store = state(ctx).store
    found = [a for a in accounts.users(store) if a.login == login]
    if not found:
        fail(f"no user {login!r}")
    token, _row = accounts.create_api_token(store, found[0], name)
    typer.echo(token)


@admin_app.command("bind-certificate")
def bind_certificate(
    ctx: typer.Context,
    login: Annotated[str, typer.Argument(help="The user.")],
    certificate: Annotated[
        Path | None,
        typer.Argument(help="Their client certificate (PEM or DER; the first of a chain)."),
    ] = None,
    remove: Annotated[
        bool, typer.Option("--remove", help="Unbind the user's certificate instead.")
    ] = False,
) -> None:
    """Let a user log in with their client certificate (behind a front that verifies it)."""
    if remove == (certificate is not None):
        fail("give the certificate file, or --remove (not both)")
    digest = None
    if certificate is not None:
        digest = fingerprint(load_certificates(certificate)[0])
    accounts.bind_certificate(state(ctx).store, login, digest)
    said = f"certificate sha256:{digest[:16]}… bound" if digest else "certificate unbound"
    console.print(f"user {login!r}: {said}")


@admin_app.command("list")
def list_accounts(ctx: typer.Context) -> None:
    """List the organisations and the users (`list-organisations` adds usage and quotas)."""
    store = state(ctx).store
    for row in accounts.organisations(store):
        console.print(f"organisation {row.name}: {', '.join(row.identities) or '-'}", markup=False)
    for account in accounts.users(store):
        status = "" if account.active else " (disabled)"
        where = f" {account.organisation}" if account.organisation else ""
        console.print(f"user {account.login}: {account.role}{where}{status}", markup=False)


def _quota_value(option: str, text: str | None, parse: Callable[[str], int]) -> int | Keep | None:
    if text is None:
        return KEEP
    if text.strip().lower() in NO_LIMIT:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        fail(f"{option}: {exc} (or 'none' for the environment's default)")


def _quota_line(row: QuotaState) -> str:
    def of(used: str, limit: int | None, shown: str) -> str:
        return f"{used} of {shown}" if limit is not None else f"{used} (no quota)"

    exchanges = of(str(row.usage.exchanges), row.quota_exchanges, str(row.quota_exchanges))
    size = of(format_size(row.usage.bytes), row.quota_bytes, format_size(row.quota_bytes or 0))
    over = " - OVER QUOTA" if row.over else ""
    return f"{row.organisation}: exchanges {exchanges}, bytes {size}{over}"


@admin_app.command("set-quota")
def set_quota(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The organisation.")],
    exchanges: Annotated[
        str | None,
        typer.Option(
            help="How many exchanges it may keep; 'none' for the environment's default "
            "(DRIMLAB_QUOTA_EXCHANGES)."
        ),
    ] = None,
    size: Annotated[
        str | None,
        typer.Option(
            "--bytes",
            help="How many bytes it may keep on disk (500M, 2G); 'none' for the environment's "
            "default (DRIMLAB_QUOTA_BYTES).",
        ),
    ] = None,
) -> None:
    """Set or remove an organisation's own quotas."""
    if exchanges is None and size is None:
        fail("give --exchanges N, --bytes SIZE, or both")
    row = quotas.set_quota(
        state(ctx).store,
        name,
        exchanges=_quota_value("--exchanges", exchanges, parse_count),
        size=_quota_value("--bytes", size, parse_size),
    )
    console.print(_quota_line(row), markup=False)


@admin_app.command("list-organisations")
def list_organisations(ctx: typer.Context) -> None:
    """List the organisations with what they keep and their quotas."""
    for row in quotas.all_quotas(state(ctx).store):
        console.print(_quota_line(row), markup=False)


@admin_app.command("purge")
def purge_command(
    ctx: typer.Context,
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            min=1,
            max=MAX_DAYS,
            help="Remove what is older than this many days (default DRIMLAB_RETENTION_DAYS).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be removed; remove nothing.")
    ] = False,
) -> None:
    """Remove exchanges, reports, finished jobs and uploads older than the retention period,
    except what a scenario run holds."""
    cli = state(ctx)
    days = older_than if older_than is not None else cli.settings.retention_days
    if days is None:
        fail("no retention period: give --older-than DAYS or set DRIMLAB_RETENTION_DAYS")
    summary = purge(cli.store, cli.settings, timedelta(days=days), dry_run=dry_run)
    for line in summary.lines():
        console.print(line, markup=False)


def register(app: typer.Typer) -> None:
    """Add `drimlab admin` to the root app."""
    app.add_typer(admin_app, name="admin")
