"""XDM: the layout of an IHE XDM export archive and the integrity of the documents it lists.

The METADATA.XML of each submission set is then checked with the XDS rules, each KOS with the
KOS rules, and the cross-validation runs across them (see `drimlab.validation.documents`).
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.documents.xdm import METADATA, XDM_ROOT, XdmArchive
from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.rules import CATALOGUE

ERROR, WARNING = Severity.ERROR, Severity.WARNING
XDM = "IHE ITI TF-1 §16 / TF-3 §4.2.1.4 XDM media"
DRIM_M = "DRIM-M (ANS): XDM export of an exam"
LAYOUT = "INDEX.HTM, README.TXT, IHE_XDM/SUBSET01/METADATA.XML, IHE_XDM/SUBSET01/KOS.DCM"


def _root_file(archive: XdmArchive, code: str, name: str) -> Iterator[Finding]:
    if not archive.has(name):
        yield CATALOGUE[code].finding(
            f"no {name} at the root of the archive",
            Location(path=archive.prefix + name),
        )


@CATALOGUE.rule(
    "XDM-001",
    "xdm-index-missing",
    severity=ERROR,
    summary="An XDM archive must have INDEX.HTM at its root",
    what="The archive root holds `INDEX.HTM` (any case), the entry page a person opens.",
    why="ITI TF-3 §4.2.1.4: the index lets a human browse the export without XDM software.",
    bad="README.TXT, IHE_XDM/... (no INDEX.HTM)",
    good=LAYOUT,
    references=(XDM,),
    subject="xdm",
)
def xdm_index_missing(archive: XdmArchive) -> Iterator[Finding]:
    yield from _root_file(archive, "XDM-001", "INDEX.HTM")


@CATALOGUE.rule(
    "XDM-002",
    "xdm-readme-missing",
    severity=ERROR,
    summary="An XDM archive must have README.TXT at its root",
    what="The archive root holds `README.TXT` (any case) naming the producer and content.",
    why="ITI TF-3 §4.2.1.4 requires it; it tells the receiver who made the export.",
    bad="INDEX.HTM, IHE_XDM/... (no README.TXT)",
    good=LAYOUT,
    references=(XDM,),
    subject="xdm",
)
def xdm_readme_missing(archive: XdmArchive) -> Iterator[Finding]:
    yield from _root_file(archive, "XDM-002", "README.TXT")


@CATALOGUE.rule(
    "XDM-003",
    "xdm-submission-set-missing",
    severity=ERROR,
    summary="An XDM archive must hold IHE_XDM/<subset>/METADATA.XML",
    what="The archive has at least one `IHE_XDM/<subset>/` folder and each has a METADATA.XML.",
    why="Without the metadata the receiver cannot tell what the documents are nor import "
    "them with their patient and exam.",
    bad="IHE_XDM/SUBSET01/KOS.DCM without METADATA.XML",
    good=LAYOUT,
    references=(XDM,),
    subject="xdm",
)
def xdm_submission_set_missing(archive: XdmArchive) -> Iterator[Finding]:
    rule = CATALOGUE["XDM-003"]
    if not archive.subsets:
        yield rule.finding("no IHE_XDM/<subset>/ folder", Location(path=archive.prefix + XDM_ROOT))
    for subset in archive.subsets:
        if subset.metadata_name is None:
            yield rule.finding(
                f"submission set folder {subset.name} has no {METADATA}",
                Location(path=f"{archive.prefix}{XDM_ROOT}{subset.name}/"),
            )


@CATALOGUE.rule(
    "XDM-004",
    "xdm-metadata-unreadable",
    severity=ERROR,
    summary="METADATA.XML must be a well-formed SubmitObjectsRequest",
    what="Each METADATA.XML parses as XML and holds an ebRS SubmitObjectsRequest with a "
    "RegistryObjectList.",
    why="Unreadable metadata makes the whole submission set unusable.",
    bad="METADATA.XML truncated in the middle of an element",
    good="<lcm:SubmitObjectsRequest><rim:RegistryObjectList>...",
    references=(XDM, "IHE ITI TF-3 §4.2.1.4"),
    subject="xdm",
)
def xdm_metadata_unreadable(archive: XdmArchive) -> Iterator[Finding]:
    for subset in archive.subsets:
        if subset.metadata_name is not None and subset.error is not None:
            yield CATALOGUE["XDM-004"].finding(subset.error, Location(path=subset.metadata_name))


@CATALOGUE.rule(
    "XDM-005",
    "xdm-document-missing",
    severity=ERROR,
    summary="Every document METADATA.XML lists must be in the archive at its URI",
    what="Each DocumentEntry has a `URI` slot naming a file of its submission set folder, "
    "and that file is in the archive.",
    why="A receiver imports the documents the metadata lists; a missing one breaks the "
    "import or silently drops the exam's manifest.",
    bad='<Slot name="URI"><ValueList><Value>KOS.DCM</Value>... and no KOS.DCM',
    good="IHE_XDM/SUBSET01/KOS.DCM present",
    references=(XDM, "IHE ITI TF-3 §4.2.3.2.24 URI"),
    subject="xdm",
)
def xdm_document_missing(archive: XdmArchive) -> Iterator[Finding]:
    rule = CATALOGUE["XDM-005"]
    for document in archive.listed:
        where = Location(path=f"{XDM_ROOT}{document.subset}/{METADATA} ({document.entry_id})")
        if not document.uri:
            yield rule.finding("the DocumentEntry has no URI slot", where)
        elif document.member is None:
            yield rule.finding(
                f"document {document.uri} is not in the archive", where, actual=document.uri
            )


@CATALOGUE.rule(
    "XDM-006",
    "xdm-document-size-mismatch",
    severity=ERROR,
    summary="Each listed document must have the size METADATA.XML declares",
    what="The `size` slot of each DocumentEntry is present and equals the file's size in bytes.",
    why="A different size means the document was altered or truncated after the metadata "
    "was written.",
    bad='<Slot name="size"><Value>5164</Value> for a 5000-byte KOS.DCM',
    good='<Slot name="size"><Value>5164</Value> for a 5164-byte KOS.DCM',
    references=(XDM, "IHE ITI TF-3 §4.2.3.2.19 size"),
    subject="xdm",
)
def xdm_document_size_mismatch(archive: XdmArchive) -> Iterator[Finding]:
    rule = CATALOGUE["XDM-006"]
    for document in archive.listed:
        if document.member is None or document.member in archive.unreadable:
            continue
        where = Location(path=document.member)
        if not document.declared_size:
            yield rule.finding("the DocumentEntry has no size slot", where)
        elif document.declared_size.strip() != str(document.size):
            yield rule.finding(
                "the document's size differs from METADATA.XML",
                where,
                expected=document.declared_size,
                actual=str(document.size),
            )


@CATALOGUE.rule(
    "XDM-007",
    "xdm-document-hash-mismatch",
    severity=ERROR,
    summary="Each listed document must have the SHA-1 hash METADATA.XML declares",
    what="The `hash` slot of each DocumentEntry is present and equals the SHA-1 of the file "
    "(hexadecimal, any case).",
    why="The hash is the receiver's only proof that the document is the one the producer "
    "registered: a different hash means it was altered.",
    bad="hash 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 for a file whose SHA-1 differs",
    good="hash equal to `sha1sum IHE_XDM/SUBSET01/KOS.DCM`",
    references=(XDM, "IHE ITI TF-3 §4.2.3.2.11 hash"),
    subject="xdm",
)
def xdm_document_hash_mismatch(archive: XdmArchive) -> Iterator[Finding]:
    rule = CATALOGUE["XDM-007"]
    for document in archive.listed:
        if document.member is None or document.member in archive.unreadable:
            continue
        where = Location(path=document.member)
        if not document.declared_hash:
            yield rule.finding("the DocumentEntry has no hash slot", where)
        elif document.declared_hash.strip().lower() != document.sha1:
            yield rule.finding(
                "the document's SHA-1 differs from METADATA.XML",
                where,
                expected=document.declared_hash,
                actual=document.sha1,
            )


@CATALOGUE.rule(
    "XDM-008",
    "xdm-unlisted-file",
    severity=WARNING,
    summary="A file of a submission set folder is not listed in its METADATA.XML",
    what="Each file of `IHE_XDM/<subset>/` other than METADATA.XML is the URI of one of its "
    "DocumentEntries.",
    why="An unlisted document has no metadata (patient, type, hash): a receiver ignores it.",
    bad="IHE_XDM/SUBSET01/OLD.DCM, listed nowhere",
    good="every file of IHE_XDM/SUBSET01/ is listed",
    references=(XDM,),
    subject="xdm",
)
def xdm_unlisted_file(archive: XdmArchive) -> Iterator[Finding]:
    listed = {d.member for d in archive.listed}
    folders = {
        f"{archive.prefix}{XDM_ROOT}{s.name}/".upper(): s for s in archive.subsets if s.submission
    }
    for name in archive.names:
        folder = name.upper().rsplit("/", 1)[0] + "/"
        if folder in folders and not name.endswith("/") and name not in listed:
            if name.upper().endswith("/" + METADATA):
                continue
            yield CATALOGUE["XDM-008"].finding(
                "the file is not listed in METADATA.XML", Location(path=name)
            )


@CATALOGUE.rule(
    "XDM-009",
    "xdm-unsafe-path",
    severity=ERROR,
    summary="Archive member names must stay inside the archive",
    what="No member name is absolute, has a drive letter or a backslash, or contains `..`.",
    why='Extracting such a member writes outside the target folder ("zip slip"); a receiver '
    "must refuse the archive.",
    bad="../../etc/cron.d/x",
    good="IHE_XDM/SUBSET01/KOS.DCM",
    references=(XDM, "PKWARE APPNOTE §4.4.17 file name"),
    subject="xdm",
)
def xdm_unsafe_path(archive: XdmArchive) -> Iterator[Finding]:
    for name in archive.unsafe:
        yield CATALOGUE["XDM-009"].finding(
            "member name escapes the archive", Location(path=name), actual=name
        )


@CATALOGUE.rule(
    "XDM-010",
    "xdm-document-unreadable",
    severity=ERROR,
    summary="Each listed DICOM document must be a readable KOS, each image readable DICOM",
    what="Each document listed as application/dicom parses as a KOS manifest; each other "
    "DICOM file of the archive parses as DICOM.",
    why="The KOS is what the export is for: a damaged one gives the receiver no exam.",
    bad="KOS.DCM truncated to its first 200 bytes",
    good="KOS.DCM parses as a Key Object Selection Document",
    references=(XDM, DRIM_M),
    subject="xdm",
)
def xdm_document_unreadable(archive: XdmArchive) -> Iterator[Finding]:
    for member, reason in sorted(archive.unreadable.items()):
        yield CATALOGUE["XDM-010"].finding(reason, Location(path=member))
