"""What every CLI module shares: the consoles, the settings, the store, one-line failures."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from drimlab.config import Settings
from drimlab.errors import InputError
from drimlab.store import Store, open_store

LANGUAGES = ("fr", "en")


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise typer.BadParameter(f"{value!r}: choose {' or '.join(LANGUAGES)}")
    return value


#: `--lang fr|en` of every command that prints scenario or monitor texts; anything else is refused.
LangOption = Annotated[
    str, typer.Option("--lang", help="Language of the texts: fr or en.", callback=_language)
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # errors stay one line


class CliState:
    """Per-invocation state: the settings and a store opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.settings)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def state(ctx: typer.Context) -> CliState:
    """The CliState of this invocation (made by the root callback)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState(Settings.from_env())
    return root.obj


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line reason (exit status 2)."""
    raise InputError(message)


def drimlab_command(settings: Settings) -> str:
    """How to run this drimlab on this home from any directory (for commands we print).

    An absolute path to the program and `--home`, so a printed command works without `.venv/bin`
    on PATH and from another directory, on the same data (the same PKI and token issuer).
    """
    beside = Path(sys.executable).with_name("drimlab")
    program = str(beside) if beside.is_file() else (shutil.which("drimlab") or "drimlab")
    return shlex.join([program, "--home", str(settings.home)])


def check_writable(file: Path) -> None:
    """Refuse (one line) an output file whose folder does not exist, or that is a folder."""
    if file.is_dir():
        fail(f"{file}: is a directory")
    if not file.parent.is_dir():
        fail(f"{file}: folder {file.parent} does not exist")
