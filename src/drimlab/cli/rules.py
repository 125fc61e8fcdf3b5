"""CLI commands: `drimlab rules` lists the rule catalogue or documents one rule."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from drimlab.cli._common import fail
from drimlab.validation.render import render_catalogue
from drimlab.validation.rules import UnknownRuleError, load_all


class CatalogueFormat(StrEnum):
    """Output formats of `drimlab rules`."""

    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    HTML = "html"


def rules(
    code: Annotated[
        str | None,
        typer.Argument(
            help="A rule code (WADO-RQ-012) or a prefix (WADO-RQ); all rules if omitted."
        ),
    ] = None,
    fmt: Annotated[
        CatalogueFormat,
        typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
    ] = CatalogueFormat.TEXT,
) -> None:
    """List the rule catalogue, or show the full documentation of one rule."""
    catalogue = load_all()
    selected = list(catalogue)
    if code is not None:
        try:
            selected = catalogue.matching(code)
        except UnknownRuleError as exc:
            fail(str(exc))
    # Plain write, no console markup or wrapping: the Markdown output is docs/rules.md.
    typer.echo(render_catalogue(selected, fmt.value), nl=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("rules")(rules)
