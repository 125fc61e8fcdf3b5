"""The rules catalogue: searchable, one page per rule (every finding links here)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from drimlab.portal.i18n import gettext as _
from drimlab.portal.reports import rule_catalogue
from drimlab.portal.templating import page
from drimlab.validation.rules import Rule


def _matches(rule: Rule, words: list[str]) -> bool:
    text = " ".join(
        (rule.code, rule.name, rule.summary, rule.doc.what, rule.doc.why, *rule.references)
    ).lower()
    return all(word in text for word in words)


async def catalogue_page(request: Request) -> Response:
    search = request.query_params.get("q", "").strip()
    words = search.lower().split()
    found = [rule for rule in rule_catalogue() if _matches(rule, words)]
    found.sort(key=lambda r: r.code)
    return page(request, "rules.html.j2", rules=found, search=search)


async def rule_page(request: Request) -> Response:
    code = request.path_params["code"]
    catalogue = rule_catalogue()
    if code not in catalogue:
        raise HTTPException(404, _("No such rule") + f": {code}")
    return page(request, "rule.html.j2", rule=catalogue[code])


routes = [Route("/rules", catalogue_page), Route("/rules/{code}", rule_page)]
