"""The CI-SIS codes the DMP metadata of a DRIM-M KOS must carry (`data/value-sets.json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ValueSet:
    """One coded attribute: its coding scheme OID, the code a KOS must use, the known codes."""

    attribute: str
    name: str
    coding_scheme: str
    kos_code: str | None
    codes: dict[str, str]


@cache
def value_sets() -> dict[str, ValueSet]:
    """The shipped value sets, by XDS attribute name (classCode, typeCode, ...)."""
    text = resources.files("drimlab.documents").joinpath("data/value-sets.json").read_text("utf-8")
    raw = json.loads(text)["value_sets"]
    return {
        attribute: ValueSet(
            attribute=attribute,
            name=str(entry["name"]),
            coding_scheme=str(entry["coding_scheme"]),
            kos_code=entry.get("kos"),
            codes=dict(entry["codes"]),
        )
        for attribute, entry in raw.items()
    }
