"""Fictitious French patients, sites and physicians for synthetic exams, drawn from a seed.

Patients are identified by an INS: a 15-digit NIR (13 digits and a key, 97 - NIR mod 97)
declared with the INS-NIR *test* OID, as the ANS samples do. Names are common French ones;
every dataset carries a comment saying the patient is fictitious.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

CHARACTER_SET = "ISO_IR 100"
FICTITIOUS_NOTE = "Patient fictif - données synthétiques drimlab, aucune personne réelle"

_FAMILY_NAMES = (
    "MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND",
    "LEROY", "MOREAU", "SIMON", "LAURENT", "LEFÈVRE", "MICHEL", "GARÇON", "DAVID",
    "BERTRAND", "ROUX", "VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "MERCIER",
    "BONNET", "FRANÇOIS", "MÉNARD", "CHÉNIER", "LAGARDÈRE", "BÉRANGER",
)  # fmt: skip
_GIVEN_NAMES_F = (
    "Hélène", "Séverine", "Chloé", "Zoé", "Anaïs", "Gaëlle", "Élodie", "Marie",
    "Camille", "Léa", "Amélie", "Noémie", "Françoise", "Mélanie", "Cécile",
)  # fmt: skip
_GIVEN_NAMES_M = (
    "François", "Jérôme", "Noël", "Benoît", "Théo", "Raphaël", "Loïc", "Hervé",
    "Jean-Noël", "Grégoire", "Étienne", "Mathéo", "Stéphane", "Frédéric", "Rémi",
)  # fmt: skip
# Metropolitan départements with a numeric code (Corsica's 2A/2B change the key computation).
_DEPARTEMENTS = (
    "01", "13", "21", "29", "31", "33", "35", "38", "44", "59", "63", "67", "69", "75",
    "76", "83", "87", "92", "93", "94",
)  # fmt: skip


@dataclass(frozen=True)
class Site:
    """The (fictitious) imaging site that produced an exam."""

    institution: str
    address: str
    department: str
    station: str
    manufacturer: str
    accession_namespace: str


TEST_SITE = Site(
    institution="CH de Test Saint-Exupéry",
    address="1 rue du Petit-Prince, 69000 Lyon",
    department="Service d'imagerie médicale",
    station="IMG-TEST-01",
    manufacturer="drimlab",
    accession_namespace="CH-TEST-ST-EXUPERY",
)


@dataclass(frozen=True)
class Patient:
    """A fictitious patient; `ins` is the 15-digit NIR with its key."""

    family_name: str
    given_name: str
    sex: str
    birth_date: datetime.date
    ins: str

    @property
    def dicom_name(self) -> str:
        """PatientName in the `NOM^Prénom` form."""
        return f"{self.family_name}^{self.given_name}"


def nir_key(nir13: str) -> str:
    """The two-digit key of a 13-digit NIR: 97 - (NIR mod 97)."""
    if len(nir13) != 13 or not nir13.isdigit():
        raise ValueError(f"a NIR has 13 digits before its key, got {nir13!r}")
    return f"{97 - int(nir13) % 97:02d}"


def is_valid_ins(value: str) -> bool:
    """True when `value` is 15 digits whose last two are the key of the first 13."""
    return len(value) == 15 and value.isdigit() and nir_key(value[:13]) == value[13:]


def make_patient(rng: np.random.Generator) -> Patient:
    """Draw a fictitious adult patient: name, sex, birth date and a NIR consistent with them."""
    sex = "F" if rng.integers(2) else "M"
    given_pool = _GIVEN_NAMES_F if sex == "F" else _GIVEN_NAMES_M
    family = str(_FAMILY_NAMES[int(rng.integers(len(_FAMILY_NAMES)))])
    given = str(given_pool[int(rng.integers(len(given_pool)))])
    birth = datetime.date(1940, 1, 1) + datetime.timedelta(days=int(rng.integers(0, 60 * 365)))
    departement = str(_DEPARTEMENTS[int(rng.integers(len(_DEPARTEMENTS)))])
    commune = int(rng.integers(1, 900))
    order = int(rng.integers(1, 1000))
    nir13 = (
        f"{1 if sex == 'M' else 2}{birth.year % 100:02d}{birth.month:02d}"
        f"{departement}{commune:03d}{order:03d}"
    )
    return Patient(family, given, sex, birth, nir13 + nir_key(nir13))


def make_physician(rng: np.random.Generator) -> str:
    """A referring physician's PN value, e.g. `DUBOIS^Cécile^^Dr`."""
    pool = _GIVEN_NAMES_F + _GIVEN_NAMES_M
    family = _FAMILY_NAMES[int(rng.integers(len(_FAMILY_NAMES)))]
    given = pool[int(rng.integers(len(pool)))]
    return f"{family}^{given}^^Dr"
