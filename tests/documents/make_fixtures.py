"""Write the fixtures of `tests/fixtures/documents/`: python -m tests.documents.make_fixtures.

Everything is synthetic: a small CT exam (two series, three instances, headers only), its KOS
built by drimlab, the PnR message and XDM archive of that KOS, a minimal CDA header. Each
faulty document is one edit of its good twin (`<family>/good.*`), named after the rule it
exercises; cross-validation faults replace one document of the good set (the suffix says which).
"""

from __future__ import annotations

import copy
import hashlib
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree
from pydicom import Dataset, FileMetaDataset, dcmread
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    BasicTextSRStorage,
    CTImageStorage,
    ExplicitVRLittleEndian,
)

from drimlab.datasets.kos_build import build_kos, write_kos
from drimlab.documents.xdm import build_xdm
from drimlab.documents.xds import RIM, XDSB
from drimlab.documents.xds_build import provide_and_register

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "documents"
STUDY = "1.2.826.0.1.3680043.8.498.1001"
SERIES = ("1.2.826.0.1.3680043.8.498.1001.1", "1.2.826.0.1.3680043.8.498.1001.2")
INS = "276099221392009"
OTHER_INS = "162018885045327"
ACCESSION = "ACC20260001"
ACCESSION_OID = "1.2.250.1.999.1.1"
ORDER = "ORD778899"
ORDER_OID = "1.2.250.1.999.1.2"
BASE = "https://source.example/dicom-web"
NS = {"rim": RIM, "xdsb": XDSB}


def _entity(uid: str) -> Dataset:
    item = Dataset()
    item.UniversalEntityID = uid
    item.UniversalEntityIDType = "ISO"
    return item


def image(series: int, number: int) -> Dataset:
    """A synthetic CT image header of the fixture exam (no pixel data)."""
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = f"{SERIES[series]}.{number}"
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = SERIES[series]
    ds.Modality = "CT"
    ds.SeriesNumber = series + 1
    ds.InstanceNumber = number
    ds.SeriesDescription = f"Serie synthetique {series + 1}"
    ds.PatientName = "SYNTHETIQUE^Patient"
    ds.PatientID = INS
    ds.IssuerOfPatientID = "ASIP-SANTE-INS-NIR"
    ds.PatientBirthDate = "19760917"
    ds.PatientSex = "F"
    ds.StudyDate = "20260124"
    ds.StudyTime = "132000"
    ds.StudyID = "E0001"
    ds.AccessionNumber = ACCESSION
    ds.IssuerOfAccessionNumberSequence = DicomSequence([_entity(ACCESSION_OID)])
    ds.PlacerOrderNumberImagingServiceRequest = ORDER
    ds.OrderPlacerIdentifierSequence = DicomSequence([_entity(ORDER_OID)])
    ds.InstitutionName = "CH SYNTHETIQUE"
    ds.ReferringPhysicianName = "MEDECIN^Test"
    ds.StudyDescription = "Scanner synthetique"
    return ds


IMAGES = ((0, 1), (0, 2), (1, 1))


def _save(ds: Dataset, path: Path) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.save_as(path, enforce_file_format=True)


def _kos_faults() -> dict[str, Callable[[Dataset], None]]:
    def text_item(ds: Dataset) -> Dataset:
        found: Dataset = next(i for i in ds.ContentSequence if i.ValueType == "TEXT")
        return found

    def evidence(ds: Dataset) -> Dataset:
        found: Dataset = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
        return found

    def no_series_uid(ds: Dataset) -> None:
        del ds.SeriesInstanceUID

    def dubious_name(ds: Dataset) -> None:
        ds.PatientName = "SYNTHETIQUE PATIENT"

    def text_sr(ds: Dataset) -> None:
        ds.SOPClassUID = BasicTextSRStorage

    def modality(ds: Dataset) -> None:
        ds.Modality = "SR"

    def title(ds: Dataset) -> None:
        ds.ConceptNameCodeSequence[0].CodeValue = "113000"
        ds.ConceptNameCodeSequence[0].CodeMeaning = "Of Interest"

    def continuity(ds: Dataset) -> None:
        ds.ContinuityOfContent = "CONTINUOUS"

    def not_ins(ds: Dataset) -> None:
        ds.IssuerOfPatientID = "HOPITAL-X"

    def qualifiers(ds: Dataset) -> None:
        del ds.IssuerOfPatientIDQualifiersSequence

    def request(ds: Dataset) -> None:
        del ds.ReferencedRequestSequence

    def accession(ds: Dataset) -> None:
        ds.ReferencedRequestSequence[0].AccessionNumber = ""

    def series_uid(ds: Dataset) -> None:
        evidence(ds).SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.01"

    def retrieve_url(ds: Dataset) -> None:
        evidence(ds).RetrieveURL = f"{BASE}/studies/{STUDY}/series/{SERIES[1]}"

    def http(ds: Dataset) -> None:
        evidence(ds).RetrieveURL = evidence(ds).RetrieveURL.replace("https:", "http:")

    def no_instances(ds: Dataset) -> None:
        series = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[1]
        series.ReferencedSOPSequence = DicomSequence()

    def content_outside(ds: Dataset) -> None:
        extra = copy.deepcopy(ds.ContentSequence[-1])
        extra.ReferencedSOPSequence[0].ReferencedSOPInstanceUID = f"{SERIES[1]}.99"
        ds.ContentSequence.append(extra)

    def evidence_unreferenced(ds: Dataset) -> None:
        ds.ContentSequence = DicomSequence(list(ds.ContentSequence)[:-1])

    def pixel_data(ds: Dataset) -> None:
        ds.add_new(0x7FE00010, "OB", b"\0" * 16)

    def no_description(ds: Dataset) -> None:
        ds.ContentSequence = DicomSequence([i for i in ds.ContentSequence if i.ValueType != "TEXT"])

    def empty_description(ds: Dataset) -> None:
        text_item(ds).TextValue = ""

    return {
        "KOS-001-kos-iod-error": no_series_uid,
        "KOS-002-kos-iod-warning": dubious_name,
        "KOS-003-kos-not-key-object-selection": text_sr,
        "KOS-004-kos-modality-not-ko": modality,
        "KOS-005-kos-title-not-manifest": title,
        "KOS-006-kos-root-not-separate-container": continuity,
        "KOS-007-kos-patient-not-ins": not_ins,
        "KOS-008-kos-ins-qualifiers-missing": qualifiers,
        "KOS-009-kos-request-missing": request,
        "KOS-010-kos-accession-missing": accession,
        "KOS-011-kos-series-uid-invalid": series_uid,
        "KOS-012-kos-retrieve-url-invalid": retrieve_url,
        "KOS-013-kos-retrieve-url-not-https": http,
        "KOS-014-kos-series-without-instances": no_instances,
        "KOS-015-kos-content-not-in-evidence": content_outside,
        "KOS-016-kos-evidence-not-in-content": evidence_unreferenced,
        "KOS-017-kos-pixel-data-present": pixel_data,
        "KOS-018-kos-description-missing": no_description,
        "KOS-018-kos-description-missing-empty-text": empty_description,
    }


def _one(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list) and found, path
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


ENTRY = "//rim:ExtrinsicObject[@id='DocumentKOS']"
SET = "//rim:RegistryPackage[@id='SubmissionSet01']"


def _classification(code: str) -> str:
    return f"{ENTRY}/rim:Classification[@id='{code}']"


def _xds_faults() -> dict[str, Callable[[etree._Element], None]]:
    def remove(path: str) -> Callable[[etree._Element], None]:
        def edit(root: etree._Element) -> None:
            for element in root.xpath(path, namespaces=NS):  # type: ignore[union-attr]
                assert isinstance(element, etree._Element)
                parent = element.getparent()
                assert parent is not None
                parent.remove(element)

        return edit

    def attribute(path: str, name: str, value: str) -> Callable[[etree._Element], None]:
        def edit(root: etree._Element) -> None:
            _one(root, path).set(name, value)

        return edit

    def slot_value(
        path: str, slot: str, index: int, value: str
    ) -> Callable[[etree._Element], None]:
        def edit(root: etree._Element) -> None:
            values = _one(root, f"{path}/rim:Slot[@name='{slot}']").iter(f"{{{RIM}}}Value")
            list(values)[index].text = value

        return edit

    def no_entry(root: etree._Element) -> None:
        for path in (ENTRY, "//xdsb:Document", "//rim:Association"):
            remove(path)(root)

    def local_patient(root: etree._Element) -> None:
        for path in (
            f"{ENTRY}/rim:ExternalIdentifier[@id='ei04']",
            f"{SET}/rim:ExternalIdentifier[@id='ei01']",
        ):
            _one(root, path).set("value", "12345^^^&1.2.250.1.999.9&ISO^PI")

    def duplicate_id(root: etree._Element) -> None:
        _one(root, _classification("cla10")).set("id", "cla09")

    patient = f"{ENTRY}/rim:ExternalIdentifier[@id='ei04']"
    refs = "urn:ihe:iti:xds:2013:referenceIdList"
    return {
        "XDS-001-xds-no-kos-entry": no_entry,
        "XDS-002-xds-entry-attribute-missing": remove(_classification("cla06")),
        "XDS-003-xds-submission-set-attribute-missing": remove(
            f"{SET}/rim:Slot[@name='submissionTime']"
        ),
        "XDS-004-xds-mime-type-not-dicom": attribute(ENTRY, "mimeType", "application/octet-stream"),
        "XDS-005-xds-class-code-wrong": attribute(
            _classification("cla05"), "nodeRepresentation", "11"
        ),
        "XDS-006-xds-type-code-wrong": attribute(
            _classification("cla06"), "nodeRepresentation", "18748-4"
        ),
        "XDS-007-xds-format-code-wrong": attribute(
            _classification("cla07"), "nodeRepresentation", "urn:ihe:rad:TEXT"
        ),
        "XDS-008-xds-patient-id-not-ins": local_patient,
        "XDS-009-xds-patient-id-mismatch": attribute(
            patient, "value", f"{OTHER_INS}^^^&1.2.250.1.213.1.4.10&ISO^NH"
        ),
        "XDS-010-xds-reference-id-list-incomplete": slot_value(
            ENTRY, refs, 0, "ACC^^^&1.2.3&ISO^urn:x"
        ),
        "XDS-011-xds-association-inconsistent": attribute(
            "//rim:Association", "targetObject", "Document99"
        ),
        "XDS-012-xds-document-missing": remove("//xdsb:Document"),
        "XDS-013-xds-datetime-malformed": slot_value(
            ENTRY, "creationTime", 0, "2026-01-24T13:20:00"
        ),
        "XDS-014-xds-duplicate-id": duplicate_id,
        "XDS-015-xds-entry-unique-id-invalid": attribute(
            f"{ENTRY}/rim:ExternalIdentifier[@id='ei05']", "value", "KOS-2026-01-24"
        ),
        "XDS-016-xds-object-type-unknown": attribute(
            ENTRY, "objectType", "urn:uuid:00000000-0000-0000-0000-000000000000"
        ),
    }


def _rezip(good: Path, target: Path, edit: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(good) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    edit(members)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


METADATA = "IHE_XDM/SUBSET01/METADATA.XML"
KOS_MEMBER = "IHE_XDM/SUBSET01/KOS.DCM"


def _set_slot(members: dict[str, bytes], slot: str, value: str) -> None:
    root = etree.fromstring(members[METADATA])
    _one(root, f"{ENTRY}/rim:Slot[@name='{slot}']").iter(f"{{{RIM}}}Value").__next__().text = value
    members[METADATA] = etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _xdm_faults() -> dict[str, Callable[[dict[str, bytes]], None]]:
    def drop(name: str) -> Callable[[dict[str, bytes]], None]:
        def edit(members: dict[str, bytes]) -> None:
            del members[name]

        return edit

    def truncate(members: dict[str, bytes]) -> None:
        members[METADATA] = members[METADATA][:300]

    def size(members: dict[str, bytes]) -> None:
        _set_slot(members, "size", "1234")

    def altered(members: dict[str, bytes]) -> None:
        data = members[KOS_MEMBER]
        at = data.index(b"Examen")
        members[KOS_MEMBER] = data[:at] + b"EXAMEN" + data[at + 6 :]

    def extra(members: dict[str, bytes]) -> None:
        members["IHE_XDM/SUBSET01/OLD.TXT"] = b"left over\n"

    def unsafe(members: dict[str, bytes]) -> None:
        members["../outside.txt"] = b"escape\n"

    def garbage(members: dict[str, bytes]) -> None:
        junk = b"not a DICOM file at all\n" * 10
        members[KOS_MEMBER] = junk
        _set_slot(members, "size", str(len(junk)))
        _set_slot(members, "hash", hashlib.sha1(junk, usedforsecurity=False).hexdigest())

    return {
        "XDM-001-xdm-index-missing": drop("INDEX.HTM"),
        "XDM-002-xdm-readme-missing": drop("README.TXT"),
        "XDM-003-xdm-submission-set-missing": drop(METADATA),
        "XDM-004-xdm-metadata-unreadable": truncate,
        "XDM-005-xdm-document-missing": drop(KOS_MEMBER),
        "XDM-006-xdm-document-size-mismatch": size,
        "XDM-007-xdm-document-hash-mismatch": altered,
        "XDM-008-xdm-unlisted-file": extra,
        "XDM-009-xdm-unsafe-path": unsafe,
        "XDM-010-xdm-document-unreadable": garbage,
    }


CDA = """<?xml version="1.0" encoding="UTF-8"?>
<!-- SYNTHETIC CDA header written by drimlab's tests: only the fields the cross-validation
     compares (patient INS, order/accession, study UID, exam date). Not a real report. -->
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <recordTarget><patientRole>
    <id root="1.2.250.1.213.1.4.10" extension="{ins}"/>
  </patientRole></recordTarget>
  <inFulfillmentOf><order>
    <id root="{accession_oid}" extension="{accession}"/>
  </order></inFulfillmentOf>
  <documentationOf><serviceEvent>
    <id root="{study}"/>
    <effectiveTime><low value="{date}132000+0100"/></effectiveTime>
  </serviceEvent></documentationOf>
</ClinicalDocument>
"""


def _cda(**changes: str) -> bytes:
    values = {
        "ins": INS,
        "accession_oid": ACCESSION_OID,
        "accession": ACCESSION,
        "study": STUDY,
        "date": "20260124",
    }
    values.update(changes)
    return CDA.format(**values).encode()


def main() -> None:
    """Rewrite every fixture from scratch."""
    shutil.rmtree(HERE, ignore_errors=True)
    for folder in ("kos", "xds", "xdm", "cda", "cross", "cross/images"):
        (HERE / folder).mkdir(parents=True)
    heads = [image(s, n) for s, n in IMAGES]
    for head in heads:
        _save(copy.deepcopy(head), HERE / "cross" / "images" / f"IM-{head.SOPInstanceUID}.dcm")
    kos = build_kos(heads, BASE)
    good_kos = HERE / "kos" / "good.dcm"
    write_kos(kos, good_kos)
    for name, edit in _kos_faults().items():
        faulty = dcmread(good_kos)
        edit(faulty)
        write_kos(faulty, HERE / "kos" / f"{name}.dcm")

    message = provide_and_register(dcmread(good_kos))
    (HERE / "xds" / "good.xml").write_bytes(message)
    for name, xml_edit in _xds_faults().items():
        root = etree.fromstring(message)
        xml_edit(root)
        (HERE / "xds" / f"{name}.xml").write_bytes(
            etree.tostring(root, xml_declaration=True, encoding="UTF-8")
        )

    good_zip = build_xdm(good_kos, [], HERE / "xdm" / "good.zip")
    for name, zip_edit in _xdm_faults().items():
        _rezip(good_zip, HERE / "xdm" / f"{name}.zip", zip_edit)

    (HERE / "cda" / "good.xml").write_bytes(_cda())
    cross = HERE / "cross"

    def xds_variant(name: str, path: str, attribute_name: str, value: str) -> None:
        root = etree.fromstring(message)
        for element in root.xpath(path, namespaces=NS):  # type: ignore[union-attr]
            assert isinstance(element, etree._Element)
            element.set(attribute_name, value)
        (cross / name).write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    def xds_refs(name: str, old: str, new: str) -> None:
        (cross / name).write_bytes(message.replace(old.encode(), new.encode()))

    xds_refs(
        "XVAL-001-xval-study-uid-mismatch.xds.xml",
        f"{STUDY}^^^",
        f"{STUDY}.9^^^",
    )
    (cross / "XVAL-002-xval-accession-mismatch.cda.xml").write_bytes(_cda(accession="ACC999"))
    xds_variant(
        "XVAL-003-xval-patient-mismatch.xds.xml",
        "//rim:ExternalIdentifier[@id='ei01' or @id='ei04']",
        "value",
        f"{OTHER_INS}^^^&1.2.250.1.213.1.4.10&ISO^NH",
    )
    xds_refs("XVAL-004-xval-order-mismatch.xds.xml", f"{ORDER}^^^", "ORD000000^^^")
    (cross / "XVAL-005-xval-date-mismatch.cda.xml").write_bytes(_cda(date="20250101"))
    xds_variant(
        "XVAL-006-xval-kos-unique-id-mismatch.xds.xml",
        f"{ENTRY}/rim:ExternalIdentifier[@id='ei05']",
        "value",
        "1.2.826.0.1.3680043.8.498.4242",
    )
    moved = image(1, 1)
    moved.SeriesInstanceUID = SERIES[0]
    _save(moved, cross / "XVAL-007-xval-reference-unresolved.image.dcm")
    _save(image(1, 2), cross / "XVAL-008-xval-image-not-referenced.extra.dcm")


if __name__ == "__main__":
    main()
