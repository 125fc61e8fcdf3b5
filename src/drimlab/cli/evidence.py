"""`drimlab evidence`: export a run as a signed evidence bundle; verify one as a monitor.

Exit statuses of `verify`: 0 VERIFIED, 1 FAILED, 3 PARTIALLY_VERIFIED, 2 unusable input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509

from drimlab.cli._common import LangOption, fail, state
from drimlab.errors import ConfigurationError
from drimlab.scenarios.bundle import export_bundle
from drimlab.scenarios.monitor import MonitorVerdict, verify_bundle
from drimlab.scenarios.signing import Signer
from drimlab.scenarios.summary import render_verification
from drimlab.trust.pki import Pki
from drimlab.trust.pki_files import MANIFEST
from drimlab.trust.pki_verify import load_certificates

evidence_app = typer.Typer(help="Evidence bundles: export a run, verify a bundle.")
PARTIAL = 3


@evidence_app.command("export")
def export_command(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix).")],
    target: Annotated[Path, typer.Argument(metavar="FILE.zip", help="The bundle to write.")],
    key: Annotated[
        Path | None, typer.Option("--key", help="Sign with this PEM key (default: the bench's).")
    ] = None,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="The signing key's certificate chain (PEM).")
    ] = None,
) -> None:
    """Write a run's evidence bundle, its manifest signed by the bench's key."""
    cli = state(ctx)
    if (key is None) != (cert is None):
        fail("--key and --cert go together")
    if key is not None and cert is not None:
        signer = Signer.from_files(key, cert)
    else:
        signer = Signer.from_pki(Pki.open(cli.settings.pki_dir))
    summary = export_bundle(cli.store, run_id, target, signer)
    typer.echo(
        f"wrote {summary.path} ({summary.files} files; manifest sha256 {summary.manifest_sha256})"
    )


def _anchors(path: Path | None, pki_dir: Path) -> list[x509.Certificate]:
    if path is not None:
        return load_certificates(path)
    if not (pki_dir / MANIFEST).exists():
        raise ConfigurationError(
            f"no test PKI at {pki_dir} to take trust anchors from: give --anchors FILE.pem"
        )
    return Pki.open(pki_dir).anchors()


@evidence_app.command("verify")
def verify_command(
    ctx: typer.Context,
    bundle: Annotated[Path, typer.Argument(metavar="FILE.zip", help="The evidence bundle.")],
    anchors: Annotated[
        Path | None,
        typer.Option("--anchors", help="Trusted CA certificates (PEM); default the bench's."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write the monitor's HTML summary.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    lang: LangOption = "en",
) -> None:
    """Check a bundle: signature, hashes, re-validation, exam, evidence; print the verdict."""
    if fmt not in ("text", "json"):
        fail(f"--format {fmt!r}: choose text or json")
    result = verify_bundle(bundle, _anchors(anchors, state(ctx).settings.pki_dir))
    if html is not None:
        try:
            html.write_text(render_verification(result, lang), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html}: {exc.strerror}")
    if fmt == "json":
        typer.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(f"{result.verdict.value}  {bundle}")
        for reason in result.failures:
            typer.echo(f"  FAILED: {reason}")
        for item in result.missing:
            typer.echo(f"  MISSING: {item}")
        for line in result.reports:
            shown = line.transport.value + (f" {line.tls_version}" if line.tls_version else "")
            typer.echo(f"  report {line.report[:8]} ({line.step}): {line.verdict}, {shown}")
        for check in result.checks:
            typer.echo(f"  ok: {check}")
    if result.verdict is MonitorVerdict.FAILED:
        raise typer.Exit(1)
    if result.verdict is MonitorVerdict.PARTIALLY_VERIFIED:
        raise typer.Exit(PARTIAL)


def register(app: typer.Typer) -> None:
    """Add `drimlab evidence` to the root app."""
    app.add_typer(evidence_app, name="evidence")
