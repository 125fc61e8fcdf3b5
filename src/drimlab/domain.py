"""DRIM-M and INS constants: the identifiers every layer shares, written once.

What DICOM defines comes from `pydicom.uid`; what DRIM-M, the INS and the DMP add is here.
This module imports nothing from drimlab, so any layer may use it.
"""

from __future__ import annotations

from typing import NamedTuple

from pydicom.uid import KeyObjectSelectionDocumentStorage


class Code(NamedTuple):
    """A coded concept: (Code Value, Coding Scheme Designator, Code Meaning)."""

    value: str
    scheme: str
    meaning: str


# The WADO-RS request header naming the KOS through which the consumer found the exam.
KOS_HEADER = "KOS-SOPInstanceUID"

# The KOS manifest (XDS-I.b, DRIM-M flavour): a Key Object Selection Document, modality KO,
# titled (113030, DCM, "Manifest"), with a TEXT item (113012, DCM, "Key Object Description").
KOS_SOP_CLASS_UID = KeyObjectSelectionDocumentStorage
KOS_MODALITY = "KO"
MANIFEST_TITLE = Code("113030", "DCM", "Manifest")
KEY_OBJECT_DESCRIPTION = Code("113012", "DCM", "Key Object Description")

# The patient of a KOS is identified by the INS (Identifiant National de Santé).
INS_ISSUER = "ASIP-SANTE-INS-NIR"
INS_NIR_OID = "1.2.250.1.213.1.4.8"
INS_NIA_OID = "1.2.250.1.213.1.4.9"
INS_NIR_TEST_OID = "1.2.250.1.213.1.4.10"
# The Universal Entity ID (type ISO) qualifying INS_ISSUER in the ANS samples and test data.
INS_ISSUER_OID = INS_NIR_TEST_OID
INS_ROOTS = (INS_NIR_OID, INS_NIA_OID, INS_NIR_TEST_OID)

# The DMP (XDS) metadata of a KOS DocumentEntry.
KOS_MIME_TYPE = "application/dicom"
KOS_TYPE_CODE = "IMG-KOS"
KOS_FORMAT_CODE = KeyObjectSelectionDocumentStorage

# The transfer syntax preferences a DRIM-M consumer sends in Accept, as (UID, q) in order.
# Lossless first: the ANS sample request (request-series.txt), JPEG Lossless to Explicit VR LE.
LOSSLESS_FIRST: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.2.4.70", "0.9"),
    ("1.2.840.10008.1.2.4.80", "0.8"),
    ("1.2.840.10008.1.2.4.91", "0.6"),
    ("1.2.840.10008.1.2.4.50", "0.5"),
    ("1.2.840.10008.1.2.4.51", "0.5"),
    ("1.2.840.10008.1.2.4.100", "0.5"),
    ("1.2.840.10008.1.2.4.101", "0.5"),
    ("1.2.840.10008.1.2.4.102", "0.5"),
    ("1.2.840.10008.1.2.4.103", "0.5"),
    ("1.2.840.10008.1.2.1", "0.4"),
)
# Lossy first, as the ANS dry run also sends: baseline and extended JPEG (a tie at 1.0) ahead.
LOSSY_FIRST: tuple[tuple[str, str], ...] = (
    ("1.2.840.10008.1.2.4.50", "1.0"),
    ("1.2.840.10008.1.2.4.51", "1.0"),
    ("1.2.840.10008.1.2.4.91", "0.8"),
    ("1.2.840.10008.1.2.4.70", "0.6"),
    ("1.2.840.10008.1.2.4.80", "0.6"),
    ("1.2.840.10008.1.2.4.90", "0.5"),
    ("1.2.840.10008.1.2.1", "0.4"),
)
