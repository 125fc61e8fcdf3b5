"""The `drimlab` command: thin wrappers over the library, one sub-command group per concept.

`run(argv)` returns the exit status instead of exiting, so tests call it in-process.
Exit statuses: 0 success / PASSED, 1 FAILED verdict, 2 unusable input or setup, 70 a bug of
drimlab itself (one line; `DRIMLAB_TRACEBACK=1` shows the traceback).
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from drimlab.cli import (
    admin,
    dataset,
    documents,
    evidence,
    exchanges,
    peer,
    portal,
    proxy,
    retrieve,
    rules,
    scenario,
    serve,
    token,
    trust,
    validate,
)
from drimlab.cli._common import CliState, err_console
from drimlab.config import Settings
from drimlab.errors import DrimlabError
from drimlab.version import __version__

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h)

app = typer.Typer(
    name="drimlab",
    help="DRIM-M interoperability test bench: datasets, simulators, validators, scenarios.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"drimlab {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar="DRIMLAB_HOME",
            help="Data directory (store, datasets, PKI). Default ./drimlab-data.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    """DRIM-M interoperability test bench."""
    env = {}
    if home is not None:
        env["DRIMLAB_HOME"] = str(home)
    # the rest of the environment (quotas, retention) applies to any home
    settings = Settings.from_env({**os.environ, **_database_env(), **env})
    ctx.obj = CliState(settings)
    ctx.call_on_close(ctx.obj.close)


def _database_env() -> dict[str, str]:
    url = os.environ.get("DRIMLAB_DATABASE_URL")
    return {"DRIMLAB_DATABASE_URL": url} if url else {}


dataset.register(app)
validate.register(app)
documents.register(app)
rules.register(app)
token.register(app)
serve.register(app)
proxy.register(app)
exchanges.register(app)
trust.register(app)
scenario.register(app)
retrieve.register(app)
evidence.register(app)
peer.register(app)


def _usage_line(exc: Exception) -> str:
    """A usage error in one line, with where to find help (click prints three or four)."""
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    message = " ".join(str(message).split())
    context = getattr(exc, "ctx", None)
    command = getattr(context, "command_path", None)
    return f"{message} (see: {command} --help)" if command else message


portal.register(app)
admin.register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on argv and return its exit status; errors become one line on stderr."""
    try:
        result = app(args=argv, prog_name="drimlab", standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:
        err_console.print(f"drimlab: error: {_usage_line(exc)}", markup=False)
        return 2
    except typer.Abort:
        err_console.print("drimlab: aborted")
        return 130
    except DrimlabError as exc:
        err_console.print(f"drimlab: error: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("drimlab: interrupted")
        return 130
    except OSError as exc:  # the system refused: a full disk, a permission, a vanished file
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in DISK_FULL:
            # what was being written is already removed (staging areas, temp files)
            err_console.print(
                f"drimlab: error: the disk is full ({exc.strerror}){where}; nothing was kept",
                markup=False,
            )
        else:
            err_console.print(f"drimlab: error: {exc.strerror or exc}{where}", markup=False)
        return 2
    except Exception as exc:  # a bug of drimlab: one line for the user, the trace on request
        if os.environ.get("DRIMLAB_TRACEBACK"):
            raise
        err_console.print(
            f"drimlab: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
            "(a bug in drimlab; set DRIMLAB_TRACEBACK=1 to see where)",
            markup=False,
        )
        return INTERNAL_ERROR
    return int(result) if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
