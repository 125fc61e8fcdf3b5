"""`drimlab token`: the test token issuer standing in for Pro Santé Connect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli._common import console, err_console, fail, state
from drimlab.config import Settings
from drimlab.errors import ConfigurationError
from drimlab.tokens import DEFAULT_ISSUER, TokenIssuer, TokenVerifier
from drimlab.trust.pki_files import MANIFEST

token_app = typer.Typer(help="Test bearer tokens (a stand-in for Pro Santé Connect).")


def bench_issuer(settings: Settings) -> TokenIssuer:
    """The token issuer of this home; never a new one where no test environment exists.

    A token from a freshly invented key would be refused by the server simulator ("unknown
    key"), so a home without its PKI and issuer key is an error naming the home.
    """
    key = TokenIssuer.key_path(settings)
    if not key.exists() and not (settings.pki_dir / MANIFEST).exists():
        raise ConfigurationError(
            f"no test environment in {settings.home} (no PKI, no token issuer): start it there "
            "with `drimlab start`, or give the home the server uses (--home or DRIMLAB_HOME)"
        )
    return TokenIssuer.open(settings)


@token_app.command("issue")
def issue(
    ctx: typer.Context,
    subject: Annotated[str, typer.Option(help="RPPS-like identifier of the professional.")] = (
        "899700000001"
    ),
    lifetime: Annotated[
        int, typer.Option(min=1, max=10 * 365 * 86400, help="Seconds until it expires.")
    ] = 3600,
    expired: Annotated[bool, typer.Option(help="Make a token that expired an hour ago.")] = False,
    audience: Annotated[str | None, typer.Option(help="The `aud` claim.")] = None,
) -> None:
    """Print a signed JWT to send as `Authorization: Bearer <token>`."""
    if lifetime <= 0 and not expired:
        fail("--lifetime must be positive (use --expired for an expired token)")
    settings = state(ctx).settings
    issuer = bench_issuer(settings)
    err_console.print(f"drimlab: token of the issuer in {settings.home}", markup=False)
    # plain echo: a token must never be wrapped or styled by the terminal renderer
    typer.echo(issuer.issue(subject, lifetime=-3600 if expired else lifetime, audience=audience))


@token_app.command("jwks")
def jwks(ctx: typer.Context) -> None:
    """Print the issuer's public keys (JWKS) for a source to trust."""
    typer.echo(json.dumps(bench_issuer(state(ctx).settings).jwks(), indent=2))


@token_app.command("verify")
def verify(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="The JWT (without `Bearer `).")],
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks", help="Verify against this JWKS instead of the bench's.")
    ] = None,
    issuer: Annotated[str, typer.Option(help="Expected `iss`.")] = DEFAULT_ISSUER,
) -> None:
    """Check a token's signature, issuer and validity; exit 0 when valid, 1 otherwise."""
    if jwks_file is not None:
        verifier = TokenVerifier.from_file(jwks_file, issuer=issuer)
    else:
        verifier = TokenVerifier(bench_issuer(state(ctx).settings).jwks(), issuer=issuer)
    check = verifier.check(token)
    console.print(f"{'valid' if check.ok else 'refused'}: {check.reason}", markup=False)
    if not check.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `drimlab token` to the root app."""
    app.add_typer(token_app, name="token")
