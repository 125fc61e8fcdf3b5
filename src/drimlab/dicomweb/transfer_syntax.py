"""Transfer syntaxes as DICOMweb sees them: known, forbidden, the default (PS3.18 §8.7.3)."""

from __future__ import annotations

from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from drimlab.dicomweb.uids import uid_problem

DEFAULT = ExplicitVRLittleEndian
"""What a server sends when the request names no transfer syntax (PS3.18 §8.7.3.5.2)."""

FORBIDDEN_ON_WEB = frozenset({ImplicitVRLittleEndian, ExplicitVRBigEndian})
"""Transfer syntaxes web services shall not use (PS3.18 §8.7.3)."""

WILDCARD = "*"


def is_known(uid: str) -> bool:
    """True when the DICOM dictionary lists `uid` as a transfer syntax."""
    if uid_problem(uid) is not None:
        return False  # pydicom warns on malformed UIDs; they are never known anyway
    try:
        return UID(uid).type == "Transfer Syntax"
    except (ValueError, TypeError):
        return False


def name_of(uid: str) -> str:
    """A readable name: the dictionary name, or the UID itself when unknown."""
    return UID(uid).name if is_known(uid) else uid


def is_forbidden_on_web(uid: str) -> bool:
    """True for Implicit VR Little Endian and Explicit VR Big Endian."""
    return uid in FORBIDDEN_ON_WEB
