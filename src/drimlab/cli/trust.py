"""CLI commands: `drimlab pki ...` (the test PKI) and `drimlab whitelist ...` (the DRIM-M list)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from cryptography.x509.oid import NameOID
from rich.table import Table

from drimlab.cli._common import check_writable, console, fail, state
from drimlab.cli.reporting import (
    IgnoreOption,
    OutputOption,
    ProfileOption,
    SelectOption,
    SeverityOption,
    check_format,
    emit,
    exit_status,
    selection,
)
from drimlab.store.records import save_report
from drimlab.trust import pki as pki_module
from drimlab.trust.pki import Pki, write_file
from drimlab.trust.pki_files import MANIFEST
from drimlab.trust.pki_verify import RevocationList, load_certificates
from drimlab.trust.whitelist import (
    ANS_SIGNER,
    SignerExpectation,
    load_whitelist,
    read_bytes,
)
from drimlab.trust.whitelist_check import verify_whitelist
from drimlab.trust.whitelist_sign import bench_whitelist, sign_whitelist
from drimlab.validation.report import Report, Verdict

pki_app = typer.Typer(help="The bench's IGC-Santé-shaped test PKI.", no_args_is_help=True)
whitelist_app = typer.Typer(
    help="The signed DRIM-M whitelist (liste blanche).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(pki_app, name="pki")
    app.add_typer(whitelist_app, name="whitelist")


def _pki(ctx: typer.Context) -> Pki:
    return Pki.open(state(ctx).settings.pki_dir)


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(
            f"--at {value!r} is not an ISO date or date-time (e.g. 2026-11-29 or "
            "2026-11-29T12:00:00Z)"
        )
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _status(entry: pki_module.PkiEntry, now: datetime) -> str:
    if entry.revoked_at:
        return "revoked"
    if now < datetime.fromisoformat(entry.not_before):
        return "not yet valid"
    if now > datetime.fromisoformat(entry.not_after):
        return "expired"
    return "valid"


def _show_entries(pki: Pki) -> None:
    now = datetime.now(UTC)
    table = Table(title=f"Test PKI {pki.directory}", show_lines=False)
    for column in ("name", "role", "subject", "serial", "not after", "status", "expected"):
        table.add_column(column, overflow="fold")
    for e in pki.entries:
        table.add_row(
            e.name, e.role, e.subject, e.serial[:16], e.not_after[:10], _status(e, now), e.expect
        )
    console.print(table)
    console.print(
        f"trust anchors: {pki.bundle_path}\nCRL: {pki.crl_path} (served at {pki.crl_url})"
    )


@pki_app.command("init")
def pki_init(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing PKI.")] = False,
    source_host: Annotated[
        str, typer.Option(help="Host (CN) of the server simulator certificate.")
    ] = pki_module.DEFAULT_SOURCE_HOST,
    consumer_host: Annotated[
        str, typer.Option(help="Host (CN) of the client simulator certificate.")
    ] = pki_module.DEFAULT_CONSUMER_HOST,
    crl_url: Annotated[
        str, typer.Option(help="CRL distribution point written in every certificate.")
    ] = pki_module.DEFAULT_CRL_URL,
) -> None:
    """Create the test hierarchy, DRIMBox and signer certificates, the CRL and the negative set."""
    pki = Pki.init(
        state(ctx).settings.pki_dir,
        force=force,
        source_host=source_host,
        consumer_host=consumer_host,
        crl_url=crl_url,
    )
    _show_entries(pki)


@pki_app.command("list")
def pki_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest entries as JSON.")] = (
        False
    ),
) -> None:
    """List every certificate of the test PKI with its role (never a private key)."""
    pki = _pki(ctx)
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in pki.entries], indent=2, ensure_ascii=False))
        return
    _show_entries(pki)


@pki_app.command("issue")
def pki_issue(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="File name of the new certificate (a-z, 0-9, -).")],
    host: Annotated[str, typer.Option(help="The DRIMBox host: CN and DNS subjectAltName.")],
    ou: Annotated[str, typer.Option(help="IDNST: 3 followed by a 14-digit SIRET.")],
    organisation: Annotated[str, typer.Option(help="O of the subject.")],
    state_name: Annotated[
        str | None, typer.Option("--state", help="ST of the subject, e.g. 'Paris (75)'.")
    ] = None,
    usage: Annotated[
        list[str] | None, typer.Option(help="server and/or client (default: both).")
    ] = None,
    days: Annotated[
        int, typer.Option(min=1, max=36500, help="Validity in days.")
    ] = pki_module.LEAF_DAYS,
) -> None:
    """Issue an organisation certificate from the TEST organisations CA."""
    usages = tuple(usage or ("server", "client"))
    unknown = sorted(set(usages) - {"server", "client"})
    if unknown:
        fail(f"--usage {unknown[0]!r}: use server or client")
    pki = _pki(ctx)
    entry = pki.issue(
        name,
        host,
        ou=ou,
        organisation=organisation,
        state=state_name,
        usages=usages,
        valid_days=days,
    )
    console.print(
        f"issued {entry.name}: {entry.subject} (serial {entry.serial})",
        markup=False,
        soft_wrap=True,
    )
    console.print(
        f"certificate {pki.path(entry.cert)}, key {pki.path(entry.key or '')}",
        markup=False,
        soft_wrap=True,
    )


@pki_app.command("revoke")
def pki_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the certificate to revoke.")],
) -> None:
    """Revoke a certificate and re-sign the CRL."""
    pki = _pki(ctx)
    entry = pki.revoke(name)
    console.print(
        f"revoked {entry.name} (serial {entry.serial}); CRL updated: {pki.crl_path}",
        markup=False,
        soft_wrap=True,
    )


@pki_app.command("crl")
def pki_crl(ctx: typer.Context) -> None:
    """Re-sign the CRL with a fresh validity window (thisUpdate now, nextUpdate in 7 days)."""
    pki = _pki(ctx)
    pki.refresh_crl()
    console.print(f"CRL re-signed: {pki.crl_path}", markup=False, soft_wrap=True)


@whitelist_app.command("show")
def whitelist_show(
    file: Annotated[Path, typer.Argument(help="A ListeBlancheDRIM-M XML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the domains as JSON.")] = False,
) -> None:
    """Print the domains of a whitelist (its signature is not checked: use verify)."""
    document = load_whitelist(file)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "versionFormat": document.version_format,
                    "DateDeGeneration": document.date_de_generation,
                    "domains": [d.__dict__ for d in document.domains],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table(
        title=f"{file.name}: {len(document.domains)} domains, generated "
        f"{document.date_de_generation}"
    )
    for column in (
        "Identifiant",
        "db",
        "vi",
        "Denomination",
        "DNCertificatOperateur",
        "SupportContact",
        "DateMAJ",
    ):
        table.add_column(column, overflow="fold")
    for d in document.domains:
        table.add_row(
            d.identifiant,
            d.db,
            d.vi,
            d.denomination,
            d.dn_certificat_operateur,
            d.support_contact,
            d.date_maj,
        )
    console.print(table)


@whitelist_app.command("verify")
def whitelist_verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A signed ListeBlancheDRIM-M XML file.")],
    ca: Annotated[
        list[Path] | None, typer.Option(help="PEM trust anchors (root, intermediate); repeatable.")
    ] = None,
    crl: Annotated[Path | None, typer.Option(help="CRL (DER or PEM) of the signer's CA.")] = None,
    expect_cn: Annotated[str | None, typer.Option(help="Expected signer CN.")] = None,
    expect_ou: Annotated[str | None, typer.Option(help="Expected signer OU.")] = None,
    at: Annotated[
        str | None, typer.Option(help="Validation time, ISO 8601 (default: now, UTC).")
    ] = None,
    bench: Annotated[
        bool, typer.Option("--bench", help="Use the bench PKI's anchors, CRL and signer.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a short JSON summary (see also --format json).")
    ] = False,
    profile: ProfileOption = "drim-m",
    select: SelectOption = None,
    ignore: IgnoreOption = None,
    severity: SeverityOption = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="Print the whole report: text, json, html, junit..."),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Verify signature, signer, chain and revocation: exit 0 verified, 1 refused, 2 bad input.

    The verification is a Report like any validation: stored, and rendered with --format.
    """
    when = _parse_time(at)
    if fmt is not None:
        check_format(fmt)
    chosen = selection(profile, select, ignore, severity)
    anchors = [c for path in ca or [] for c in load_certificates(path)]
    expected = ANS_SIGNER
    crl_path = crl
    if bench:
        pki = _pki(ctx)
        anchors += pki.anchors()
        crl_path = crl_path or pki.crl_path
        expected = _bench_signer(pki)
    if expect_cn is not None or expect_ou is not None:
        expected = SignerExpectation(
            expect_cn or expected.common_name, expect_ou or expected.organisational_unit
        )
    revocation = None
    if crl_path is not None:
        if not anchors:
            fail(f"--crl needs --ca (or --bench) to know which CA signs the CRL of {file}")
        revocation = RevocationList.load(crl_path, anchors)
    report = verify_whitelist(
        read_bytes(file),
        anchors=anchors,
        crl=revocation,
        expected=expected,
        at=when,
        label=str(file),
        profile=chosen,
    ).report
    save_report(state(ctx).store, report, kind="whitelist")
    if fmt is not None or output is not None:
        emit([report], fmt or "text", output)
    else:
        _print_outcome(file, report, as_json, "" if bench else _bench_hint(ctx, report))
    raise typer.Exit(exit_status([report]))


def _bench_signer(pki: Pki) -> SignerExpectation:
    cert = pki.certificate("whitelist-signer")
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    ou = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    return SignerExpectation(str(cn), str(ou))


def _print_outcome(file: Path, report: Report, as_json: bool, hint: str = "") -> None:
    """The short summary a DRIMBox operator reads: VERIFIED or REFUSED, the signer, findings."""
    verified = report.verdict is Verdict.PASSED
    facts = report.facts.get("whitelist", {})
    signer = facts.get("signer")
    if as_json:
        summary = {
            "file": str(file),
            "verified": verified,
            "verdict": report.verdict.value,
            "validation_time": facts.get("validation_time"),
            "signer": signer,
            "signing_time": facts.get("signing_time"),
            "domains": facts.get("domains"),
            "findings": [f.as_dict() for f in report.findings],
        }
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    console.print(f"{file}: {'VERIFIED' if verified else 'REFUSED'}", markup=False, soft_wrap=True)
    if isinstance(signer, dict):
        console.print(
            f"  signer: {signer['subject']}\n  issuer: {signer['issuer']}\n  valid: "
            f"{signer['not_before']} to {signer['not_after']}\n"
            f"  signing time: {facts.get('signing_time')}",
            markup=False,
            soft_wrap=True,
        )
    console.print(f"  domains: {facts.get('domains')}", markup=False, soft_wrap=True)
    for f in report.findings:
        seen = f" (expected {f.expected}; found {f.actual})" if f.expected and f.actual else ""
        console.print(
            f"  {f.rule} {f.severity.value}: {f.message}{seen}", markup=False, soft_wrap=True
        )
    if hint:
        console.print(f"  hint: {hint}", markup=False, soft_wrap=True)


def _bench_hint(ctx: typer.Context, report: Report) -> str:
    """When the bench's own list is checked as the ANS one: say that --bench expects it."""
    signer = report.facts.get("whitelist", {}).get("signer")
    settings = state(ctx).settings
    if not isinstance(signer, dict) or not (settings.pki_dir / MANIFEST).exists():
        return ""
    if not any(f.rule == "WL-005" for f in report.findings):
        return ""
    bench = _bench_signer(_pki(ctx))
    subject = str(signer.get("subject", ""))
    if f"CN={bench.common_name}" in subject and f"OU={bench.organisational_unit}" in subject:
        return (
            "signed by this bench's own whitelist signer: add --bench to expect that signer "
            "(and trust the bench's CA and CRL)"
        )
    return ""


@whitelist_app.command("sign")
def whitelist_sign(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="The list to sign (any signature is replaced).")],
    output: Annotated[Path, typer.Argument(help="Where to write the signed list.")],
    signer: Annotated[
        str, typer.Option(help="Name of the bench PKI certificate that signs.")
    ] = "whitelist-signer",
) -> None:
    """Sign a list with the bench PKI: enveloped XAdES-BASELINE-B, exc-c14n, RSA-SHA256."""
    check_writable(output)
    pki = _pki(ctx)
    data = read_bytes(source)
    signed = sign_whitelist(
        data,
        pki.certificate(signer),
        pki.key_path(signer).read_bytes(),
        [pki.certificate("organisations"), pki.certificate("root")],
    )
    write_file(output, signed, mode=0o644)
    console.print(
        f"signed {source} -> {output} with {pki.entry(signer).subject}",
        markup=False,
        soft_wrap=True,
    )


@whitelist_app.command("make")
def whitelist_make(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option(help="Output file (default: <home>/pki/whitelist.xml).")
    ] = None,
    include: Annotated[
        list[str] | None,
        typer.Option(help="PKI certificates to list (default: source, consumer); repeatable."),
    ] = None,
) -> None:
    """Write the bench's own signed whitelist naming its DRIMBox certificates."""
    if output is not None:
        check_writable(output)
    pki = _pki(ctx)
    names = include or ["source", "consumer"]
    target = output or pki.directory / "whitelist.xml"
    signed = bench_whitelist(pki, names)
    domains = names
    write_file(target, signed, mode=0o644)
    console.print(
        f"wrote {target}: {len(domains)} domains, signed by "
        f"{pki.entry('whitelist-signer').subject}",
        markup=False,
        soft_wrap=True,
    )
