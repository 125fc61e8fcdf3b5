"""Profiles: which rule families run, with which severity overrides.

Families are code prefixes, so a family added later (e.g. `KOS`) joins a profile that names
its prefix without editing the profile. `--select` / `--ignore` then narrow the set by code
or prefix; an unknown code or prefix is an error, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from drimlab.errors import InputError
from drimlab.validation.findings import Severity
from drimlab.validation.rules import CATALOGUE, Rule, UnknownRuleError, load_all


@dataclass(frozen=True)
class Profile:
    """A named table of rule families with severity overrides."""

    name: str
    families: tuple[str, ...]
    description: str
    overrides: Mapping[str, Severity] = field(default_factory=dict)
    decode_pixels: bool = False  # decode every part's pixel data unless --pixel-sample says

    def includes(self, code: str) -> bool:
        return any(code == f or code.startswith(f + "-") for f in self.families)

    def severity_of(self, rule: Rule) -> Severity | None:
        """The severity this profile imposes on the rule's findings (None: the rule's own)."""
        return self.overrides.get(rule.code)


DICOMWEB = Profile(
    name="dicomweb",
    families=("WADO-RQ", "WADO-RS", "DICOM", "HEALTH", "REFUSAL"),
    description="PS3.18 WADO-RS and PS3.10 part content, without DRIM-M specifics",
)

DRIM_M = Profile(
    name="drim-m",
    families=(
        "WADO-RQ",
        "WADO-RS",
        "DICOM",
        "HEALTH",
        "DRIM",
        "REFUSAL",
        "TLS",
        "WL",
        "KOS",
        "PROBE",
        "XDS",
        "XVAL",
        "ORU",
        "XDM",
    ),
    description="DICOMweb plus the DRIM-M headers, KOS consistency, TLS and whitelist facts",
    overrides={
        # The ANS reference requests carry both; DRIM-M tolerates them (see the rule docs).
        "WADO-RQ-013": Severity.INFO,
        "WADO-RQ-014": Severity.INFO,
        # Forms of the ANS dry run that PS3.18 does not define: warnings naming the deviation.
        "WADO-RQ-018": Severity.WARNING,
        "WADO-RQ-019": Severity.WARNING,
        # A source that does not honour the consumer's q: a warning in DRIM-M (info in dicomweb).
        "WADO-RS-036": Severity.WARNING,
    },
    decode_pixels=True,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (DICOMWEB, DRIM_M)}


def get_profile(profile: str | Profile) -> Profile:
    """The profile of that name (InputError naming the choices when unknown)."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        choices = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown profile {profile!r} (choose from {choices})") from None


def split_codes(values: Iterable[str]) -> list[str]:
    """Flatten repeatable, comma-separated code lists: ["A,B", "C"] -> ["A", "B", "C"]."""
    return [code.strip() for value in values for code in value.split(",") if code.strip()]


def resolve(
    profile: str | Profile, select: Iterable[str] = (), ignore: Iterable[str] = ()
) -> tuple[Rule, ...]:
    """The rules a validation runs: the profile's (or the selected), minus the ignored.

    Raises UnknownRuleError for a code or prefix that matches no rule.
    """
    chosen = get_profile(profile)
    load_all()
    selected = split_codes(select)
    if selected:
        codes = {r.code for code in selected for r in CATALOGUE.matching(code)}
    else:
        codes = {r.code for r in CATALOGUE if chosen.includes(r.code)}
    for code in split_codes(ignore):
        codes -= {r.code for r in CATALOGUE.matching(code)}
    return tuple(CATALOGUE[c] for c in sorted(codes))


__all__ = [
    "DICOMWEB",
    "DRIM_M",
    "PROFILES",
    "Profile",
    "UnknownRuleError",
    "get_profile",
    "resolve",
    "split_codes",
]
