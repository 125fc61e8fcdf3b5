"""`drimlab peer`: reference peers, to see a full test before pointing the bench at your box.

`drimlab peer orthanc [--mtls]` starts Orthanc with its DICOMweb plugin, loaded with an exam of
the catalogue, and with `--mtls` puts nginx in front of it doing mutual TLS with the bench's
`source` certificate (the one the bench whitelist lists) and requiring a client certificate of
the bench's CA. It runs in the foreground until Ctrl-C and prints the base URL and the
`drimlab scenario run` command that tests it as a source DRIMBox.
"""

from __future__ import annotations

import shlex
import time
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Annotated

import typer
from pydicom.uid import ExplicitVRLittleEndian

from drimlab.cli._common import console, drimlab_command, err_console, state
from drimlab.datasets import catalog
from drimlab.errors import ConfigurationError
from drimlab.simulators.address import public_host
from drimlab.simulators.environment import SOURCE_CERT, BenchEnvironment
from drimlab.testing.nginx import MtlsProxy
from drimlab.testing.orthanc import DICOMWEB_ROOT, OrthancServer

peer_app = typer.Typer(
    help="Reference peers: a real source to run the bench against before your own DRIMBox.",
    no_args_is_help=True,
)
SOURCE_SCENARIO = "DRIM-M_SO_REPONSE_WADO"
POLL_SECONDS = 0.5


def _exam_files(ctx: typer.Context, exam: str | None) -> tuple[str, list[Path]]:
    cli = state(ctx)
    info = catalog.get_exam(cli.store, exam) if exam else catalog.list_exams(cli.store)[0]
    files = []
    for series in catalog.exam_series(cli.store, info.name):
        for instance in series.instances:
            stored = instance.file(ExplicitVRLittleEndian) or instance.files[0]
            files.append(stored.path)
    return info.name, files


def _wait(peers: list[OrthancServer | MtlsProxy]) -> None:
    """Until Ctrl-C; a peer that dies on its own is an error naming its log."""
    while True:
        for peer in peers:
            if not peer.running:
                log = peer.log_path if isinstance(peer, OrthancServer) else peer.error_log
                raise ConfigurationError(f"{peer.name} stopped on its own; see its log {log}")
        time.sleep(POLL_SECONDS)


def orthanc(
    ctx: typer.Context,
    mtls: Annotated[
        bool,
        typer.Option(
            "--mtls", help="Put nginx in front doing mutual TLS with the bench's certificates."
        ),
    ] = False,
    exam: Annotated[
        str | None,
        typer.Option(
            "--exam", help="Exam to load (name or Study Instance UID; default the first)."
        ),
    ] = None,
) -> None:
    """Start Orthanc (DICOMweb) loaded with an exam, as a reference source DRIMBox; Ctrl-C stops."""
    cli = state(ctx)
    env = BenchEnvironment.prepare(
        cli.store, cli.settings, progress=lambda m: err_console.print(m, markup=False)
    )
    name, files = _exam_files(ctx, exam)
    pki = env.pki
    with ExitStack() as stack:
        server = stack.enter_context(OrthancServer())
        server.load(files)
        peers: list[OrthancServer | MtlsProxy] = [server]
        inputs = []
        if mtls:
            front = stack.enter_context(
                MtlsProxy(
                    upstream=server.url,
                    ca_file=pki.bundle_path,
                    cert_file=pki.chain_path(SOURCE_CERT),
                    key_file=pki.key_path(SOURCE_CERT),
                )
            )
            peers.append(front)
            # the host of the certificate nginx presents, the one the bench whitelist lists
            base = f"https://{public_host('127.0.0.1', env)}:{front.port}{DICOMWEB_ROOT}"
        else:
            base = server.base_url
            inputs += ["-i", "insecure_http=true"]
        inputs = ["-i", f"base_url={base}", *inputs, "-i", f"exam={name}"]
        command = (
            f"{drimlab_command(cli.settings)} scenario run {SOURCE_SCENARIO} --auto "
            f"{shlex.join([*inputs, '-e', f'source-log={server.log_path}'])}"
        )
        lines = [
            "drimlab reference source — Orthanc with its DICOMweb plugin"
            + (", behind nginx doing mutual TLS" if mtls else " (plain HTTP: debugging only)"),
            f"  WADO-RS base URL      {base}",
            f"  exam loaded           {name} ({len(files)} instances)",
            f"  Orthanc log           {server.log_path}",
        ]
        if mtls:
            lines += [
                f"  server certificate    {pki.chain_path(SOURCE_CERT)} (listed in the bench "
                "whitelist)",
                f"  client certificates   issued by {pki.bundle_path}",
            ]
        lines += ["  test it as a source DRIMBox (from another terminal):", f"    {command}"]
        typer.echo("\n".join(lines))  # never wrapped: the command is copied as it is
        console.print("serving; Ctrl-C to stop", markup=False)
        with suppress(KeyboardInterrupt):
            _wait(peers)
    console.print("stopped", markup=False)


def register(app: typer.Typer) -> None:
    """Add `drimlab peer` to the root app."""
    peer_app.command("orthanc")(orthanc)
    app.add_typer(peer_app, name="peer")
