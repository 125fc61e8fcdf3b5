"""The DRIM-M KOS manifest: build one for an exam (`kos_build`), read any one (`kos_read`)."""

from drimlab.datasets.kos_build import (
    INS_ISSUER,
    INS_ISSUER_OID,
    SeriesEvidence,
    build_kos,
    retrieve_url,
    write_kos,
)
from drimlab.datasets.kos_read import (
    KosSeries,
    KosSummary,
    SopReference,
    is_manifest,
    load_dataset,
    read_kos,
)

__all__ = [
    "INS_ISSUER",
    "INS_ISSUER_OID",
    "KosSeries",
    "KosSummary",
    "SeriesEvidence",
    "SopReference",
    "build_kos",
    "is_manifest",
    "load_dataset",
    "read_kos",
    "retrieve_url",
    "write_kos",
]
