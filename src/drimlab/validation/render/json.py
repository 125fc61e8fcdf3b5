"""A Report as JSON, the document `report.schema.json` describes (see docs/report-json.md)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, cast

from drimlab.validation.render.sanitize import json_text
from drimlab.validation.report import Report

SCHEMA_NAME = "drimlab-report"
SCHEMA_VERSION = 1
SCHEMA_FILE = "report.schema.json"


def as_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON data, tagged with the schema it follows."""
    return {"schema": f"{SCHEMA_NAME}/{SCHEMA_VERSION}", **report.as_dict()}


def render_json(report: Report) -> str:
    """The report as indented UTF-8 JSON; values that JSON cannot hold become strings."""
    text = json.dumps(as_dict(report), indent=2, ensure_ascii=False, default=str)
    return json_text(text) + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `as_dict`, as shipped with the package."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return cast(dict[str, Any], json.loads(text))
