"""The portal's Jinja2 environment: autoescaped templates shipped in the package, gettext
texts in the request's language, and a few filters for what pages show often.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from drimlab.portal import i18n
from drimlab.portal.viewer import account_of, csrf_of
from drimlab.version import __version__


def part_ranges(indices: Iterable[int]) -> str:
    """Part indices as ranges: [0, 1, 2, 5] -> '0-2, 5'."""
    ordered = sorted(set(indices))
    ranges: list[str] = []
    start = previous = None
    for index in ordered:
        if start is None:
            start = previous = index
        elif previous is not None and index == previous + 1:
            previous = index
        else:
            ranges.append(f"{start}" if start == previous else f"{start}–{previous}")
            start = previous = index
    if start is not None:
        ranges.append(f"{start}" if start == previous else f"{start}–{previous}")
    return ", ".join(ranges)


def when(value: datetime | float | None) -> str:
    """A point in time as the portal shows it (UTC, to the second)."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def size(value: int | None) -> str:
    if value is None:
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value = value / 1024  # type: ignore[assignment]
    return str(value)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("drimlab.portal", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["ranges"] = part_ranges
    env.filters["when"] = when
    env.filters["size"] = size
    env.globals["version"] = __version__
    return env


def query(request: Request, **changes: Any) -> str:
    """The request's query string with some parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    return urlencode(params)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page template with what every page needs (language, path, switch links)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = (
        environment()
        .get_template(template)
        .render(
            lang=i18n.current(),
            languages=i18n.LANGUAGES,
            here=here,
            path=request.url.path,
            query=lambda **changes: query(request, **changes),
            account=account_of(request),
            accounts=bool(getattr(request.app.state.portal, "accounts", False)),
            task_queue=getattr(request.app.state.portal, "queue", None) is not None,
            csrf=csrf_of(request),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)


def fragment(template: str, **context: Any) -> str:
    """A template rendered alone (rows of a live list)."""
    return environment().get_template(template).render(lang=i18n.current(), **context)
