"""Build the DICOM datasets of synthetic instances, module by module (PS3.3 IODs).

Every builder returns a complete dataset of one IOD (CT Image, MR Image, Digital X-Ray For
Presentation, Ultrasound Multi-frame) that dciodvfy accepts without error.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.uid import (
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    MRImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from drimlab.datasets.synthetic_identity import (
    CHARACTER_SET,
    FICTITIOUS_NOTE,
    Patient,
    Site,
)
from drimlab.domain import INS_ISSUER, INS_NIR_TEST_OID

# Value 3 of CT/MR ImageType and the axial orientation all these exams share.
AXIAL = (1, 0, 0, 0, 1, 0)


@dataclass(frozen=True)
class StudyContext:
    """What every instance of one exam shares: who, where, when, which UIDs."""

    patient: Patient
    site: Site
    study_uid: str
    study_datetime: datetime.datetime
    accession_number: str
    accession_issuer_oid: str
    study_id: str
    study_description: str
    referring_physician: str


@dataclass(frozen=True)
class SeriesContext:
    """What every instance of one series shares."""

    study: StudyContext
    series_uid: str
    frame_of_reference_uid: str
    number: int
    description: str
    modality: str
    body_part: str
    series_datetime: datetime.datetime


def _date(value: datetime.date) -> str:
    return value.strftime("%Y%m%d")


def _time(value: datetime.datetime) -> str:
    return value.strftime("%H%M%S")


def _ds(value: float) -> str:
    """A decimal string that always looks the same (no float repr surprises)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


# View codes of CID 4010 for the chest radiograph views drimlab makes.
_VIEW_CODES = {
    "PA": ("399348003", "SCT", "postero-anterior"),
    "LL": ("399173006", "SCT", "left lateral"),
}


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _issuer_qualifiers() -> Dataset:
    item = Dataset()
    item.UniversalEntityID = INS_NIR_TEST_OID
    item.UniversalEntityIDType = "ISO"
    return item


def _patient_age(birth: datetime.date, on: datetime.date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return f"{years:03d}Y"


def _common(series: SeriesContext, sop_class: str, sop_uid: str, number: int) -> Dataset:
    """Patient, study, series, equipment and SOP common modules."""
    study = series.study
    patient = study.patient
    ds = Dataset()
    ds.SpecificCharacterSet = CHARACTER_SET
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    ds.InstanceCreationDate = _date(series.series_datetime)
    ds.InstanceCreationTime = _time(series.series_datetime)
    ds.StudyDate = _date(study.study_datetime)
    ds.SeriesDate = _date(series.series_datetime)
    ds.ContentDate = _date(series.series_datetime)
    ds.StudyTime = _time(study.study_datetime)
    ds.SeriesTime = _time(series.series_datetime)
    ds.ContentTime = _time(series.series_datetime + datetime.timedelta(seconds=number))
    ds.AccessionNumber = study.accession_number
    accession_issuer = Dataset()
    accession_issuer.LocalNamespaceEntityID = study.site.accession_namespace
    accession_issuer.UniversalEntityID = study.accession_issuer_oid
    accession_issuer.UniversalEntityIDType = "ISO"
    ds.IssuerOfAccessionNumberSequence = [accession_issuer]
    ds.Modality = series.modality
    ds.Manufacturer = study.site.manufacturer
    ds.InstitutionName = study.site.institution
    ds.InstitutionAddress = study.site.address
    ds.ReferringPhysicianName = study.referring_physician
    ds.StationName = study.site.station
    ds.StudyDescription = study.study_description
    ds.SeriesDescription = series.description
    ds.InstitutionalDepartmentName = study.site.department
    ds.ManufacturerModelName = "Synthetic exam generator"
    ds.PatientName = patient.dicom_name
    ds.PatientID = patient.ins
    ds.IssuerOfPatientID = INS_ISSUER
    ds.IssuerOfPatientIDQualifiersSequence = [_issuer_qualifiers()]
    ds.PatientBirthDate = _date(patient.birth_date)
    ds.PatientSex = patient.sex
    other = Dataset()
    other.PatientID = patient.ins
    other.IssuerOfPatientID = INS_ISSUER
    other.IssuerOfPatientIDQualifiersSequence = [_issuer_qualifiers()]
    other.TypeOfPatientID = "TEXT"
    ds.OtherPatientIDsSequence = [other]
    ds.PatientAge = _patient_age(patient.birth_date, study.study_datetime.date())
    ds.PatientComments = FICTITIOUS_NOTE
    ds.BodyPartExamined = series.body_part
    ds.DeviceSerialNumber = "DRIMLAB-0001"
    ds.SoftwareVersions = "drimlab synthetic 1"
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series.series_uid
    ds.StudyID = study.study_id
    ds.SeriesNumber = series.number
    ds.InstanceNumber = number
    return ds


def _monochrome(ds: Dataset, pixels: npt.NDArray[np.uint16], bits_stored: int) -> None:
    """Image Pixel module of one unsigned 16-bit MONOCHROME2 frame."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.astype("<u2").tobytes()


def _plane(
    ds: Dataset, spacing: float, thickness: float, position: tuple[float, float, float]
) -> None:
    """Image Plane module of an axial slice."""
    ds.PixelSpacing = [_ds(spacing), _ds(spacing)]
    ds.ImageOrientationPatient = [_ds(v) for v in AXIAL]
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.SliceThickness = _ds(thickness)
    ds.SliceLocation = _ds(position[2])


def ct_image(
    series: SeriesContext,
    sop_uid: str,
    number: int,
    pixels: npt.NDArray[np.uint16],
    *,
    spacing: float,
    thickness: float,
    z: float,
    contrast: bool,
) -> Dataset:
    """A CT Image IOD instance of one axial slice (stored values are HU + 1024)."""
    ds = _common(series, CTImageStorage, sop_uid, number)
    ds.PatientPosition = "FFS"
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.AcquisitionNumber = 1
    ds.KVP = "120"
    ds.XRayTubeCurrent = 250
    ds.ExposureTime = 500
    ds.ConvolutionKernel = "STANDARD"
    ds.ReconstructionDiameter = _ds(spacing * pixels.shape[1])
    if contrast:
        ds.ContrastBolusAgent = "Iode"
    half = spacing * pixels.shape[1] / 2
    _plane(ds, spacing, thickness, (-half, -half, z))
    _monochrome(ds, pixels, 12)
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.WindowCenterWidthExplanation = "ABDOMEN"
    return ds


def mr_image(
    series: SeriesContext,
    sop_uid: str,
    number: int,
    pixels: npt.NDArray[np.uint16],
    *,
    spacing: float,
    thickness: float,
    z: float,
    weighting: str,
) -> Dataset:
    """An MR Image IOD instance of one axial spin-echo slice."""
    ds = _common(series, MRImageStorage, sop_uid, number)
    ds.PatientPosition = "HFS"
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    t2 = weighting.upper() == "T2"
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.RepetitionTime = "4000" if t2 else "500"
    ds.EchoTime = "100" if t2 else "12"
    ds.EchoTrainLength = 16 if t2 else 1
    ds.MagneticFieldStrength = "1.5"
    ds.ImagedNucleus = "1H"
    ds.SpacingBetweenSlices = _ds(thickness)
    ds.AcquisitionNumber = 1
    half = spacing * pixels.shape[1] / 2
    _plane(ds, spacing, thickness, (-half, -half, z))
    _monochrome(ds, pixels, 12)
    ds.WindowCenter = "600"
    ds.WindowWidth = "1200"
    return ds


def dx_image(
    series: SeriesContext,
    sop_uid: str,
    number: int,
    pixels: npt.NDArray[np.uint16],
    *,
    spacing: float,
    view: str,
) -> Dataset:
    """A Digital X-Ray Image For Presentation IOD instance (chest, PA or lateral)."""
    ds = _common(series, DigitalXRayImageStorageForPresentation, sop_uid, number)
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PatientOrientation = ["P", "F"] if view == "PA" else ["A", "F"]
    ds.ViewPosition = view
    ds.ViewCodeSequence = [_code(*_VIEW_CODES[view])]
    ds.AnatomicRegionSequence = [_code("51185008", "SCT", "Chest")]
    ds.PositionerType = "COLUMN"
    ds.AcquisitionContextSequence = []
    ds.ImageLaterality = "U"
    ds.AcquisitionNumber = 1
    ds.KVP = "125" if view == "PA" else "110"
    ds.ExposureTime = 10
    ds.XRayTubeCurrent = 320
    ds.DistanceSourceToDetector = "1800"
    ds.ImagerPixelSpacing = [_ds(spacing), _ds(spacing)]
    ds.DetectorType = "SCINTILLATOR"
    ds.PixelIntensityRelationship = "LOG"
    ds.PixelIntensityRelationshipSign = 1
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "US"
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    ds.WindowCenter = "2048"
    ds.WindowWidth = "4096"
    _monochrome(ds, pixels, 12)
    return ds


def us_cine(
    series: SeriesContext,
    sop_uid: str,
    number: int,
    frames: npt.NDArray[np.uint8],
    *,
    frame_time_ms: float,
) -> Dataset:
    """An Ultrasound Multi-frame Image IOD instance: an 8-bit MONOCHROME2 cine loop."""
    ds = _common(series, UltrasoundMultiFrameImageStorage, sop_uid, number)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL", "0001"]
    ds.PatientOrientation = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames, ds.Rows, ds.Columns = frames.shape
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.FrameTime = _ds(frame_time_ms)
    ds.FrameIncrementPointer = 0x00181063  # FrameTime
    ds.CineRate = round(1000 / frame_time_ms)
    ds.RecommendedDisplayFrameRate = round(1000 / frame_time_ms)
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"
    ds.PixelData = frames.tobytes()
    return ds
