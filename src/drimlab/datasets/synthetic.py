"""Named, seeded synthetic exams that look like French ones, written as Part 10 files.

`dataset_specs("default")` lists a few small exams (multi-series CT, MR, DX, an ultrasound
cine loop); `dataset_specs("large")` one CT of more than 1,000 instances and 500 MB for
performance work. `write_exam(spec, out_dir)` writes every instance in Explicit VR Little
Endian to `out_dir/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`, byte-identical on every run.
"""

from __future__ import annotations

import datetime
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from drimlab.datasets import synthetic_iods as iods
from drimlab.datasets import synthetic_pixels as pixels
from drimlab.datasets.synthetic_identity import TEST_SITE, make_patient, make_physician
from drimlab.errors import InputError

DATASET_NAMES: tuple[str, ...] = ("default", "large")

# Fixed File Meta identity: files must not change with the pydicom version that wrote them.
IMPLEMENTATION_CLASS_UID = generate_uid(entropy_srcs=["drimlab", "implementation"])
IMPLEMENTATION_VERSION_NAME = "DRIMLAB_SYNTH_1"

SERIES_KINDS = ("ct-localizer", "ct-axial", "mr-axial", "dx", "us-cine")


@dataclass(frozen=True)
class SeriesSpec:
    """One series of a synthetic exam: what kind of images, how many, how big."""

    kind: str  # one of SERIES_KINDS
    description: str
    body_part: str
    instances: int
    rows: int
    columns: int
    frames: int = 1
    variant: str = ""  # "T1"/"T2" for MR, "PA"/"LL" for DX, "contrast" for CT


@dataclass(frozen=True)
class ExamSpec:
    """A named synthetic exam: one patient, one study, its series; `seed` fixes everything."""

    name: str
    description: str
    modality: str
    seed: int
    series: tuple[SeriesSpec, ...] = ()

    @property
    def instance_count(self) -> int:
        return sum(s.instances for s in self.series)

    @property
    def pixel_bytes(self) -> int:
        """Size of all pixel data, uncompressed (the bulk of the exam's size)."""
        total = 0
        for s in self.series:
            depth = 1 if s.kind == "us-cine" else 2
            total += s.instances * s.frames * s.rows * s.columns * depth
        return total


def _ct_series(
    body_part: str, count: int, size: int, phases: tuple[tuple[str, str], ...]
) -> tuple[SeriesSpec, ...]:
    """A localizer then one axial series per (description, variant) phase."""
    axial = tuple(
        SeriesSpec("ct-axial", description, body_part, count, size, size, variant=variant)
        for description, variant in phases
    )
    return (SeriesSpec("ct-localizer", "Topogramme", body_part, 1, size, size), *axial)


_DEFAULT = (
    ExamSpec(
        name="ct-thorax-abdo",
        description="Scanner thoraco-abdomino-pelvien avec injection",
        modality="CT",
        seed=1101,
        series=_ct_series(
            "CHESTABDPELVIS",
            24,
            256,
            (("TAP sans injection 5 mm", ""), ("TAP temps portal 5 mm", "contrast")),
        ),
    ),
    ExamSpec(
        name="irm-encephale",
        description="IRM encéphalique sans injection",
        modality="MR",
        seed=2202,
        series=(
            SeriesSpec("mr-axial", "Axial T1 SE", "HEAD", 16, 256, 256, variant="T1"),
            SeriesSpec("mr-axial", "Axial T2 TSE", "HEAD", 16, 256, 256, variant="T2"),
        ),
    ),
    ExamSpec(
        name="radio-thorax",
        description="Radiographie du thorax face et profil",
        modality="DX",
        seed=3303,
        series=(
            SeriesSpec("dx", "Thorax face", "CHEST", 1, 512, 512, variant="PA"),
            SeriesSpec("dx", "Thorax profil", "CHEST", 1, 512, 512, variant="LL"),
        ),
    ),
    ExamSpec(
        name="echo-abdominale",
        description="Échographie abdominale",
        modality="US",
        seed=4404,
        series=(
            SeriesSpec("us-cine", "Foie coupe sous-costale, ciné", "ABDOMEN", 1, 192, 256, 48),
        ),
    ),
)

_LARGE = (
    ExamSpec(
        name="ct-corps-entier",
        description="Scanner corps entier avec injection (jeu volumineux)",
        modality="CT",
        seed=9909,
        series=_ct_series(
            "WHOLEBODY",
            350,
            512,
            (
                ("Corps entier sans injection", ""),
                ("Corps entier temps artériel", "contrast"),
                ("Corps entier temps portal", "contrast"),
            ),
        ),
    ),
)


def dataset_specs(name: str) -> tuple[ExamSpec, ...]:
    """The exams of a named synthetic dataset ("default" or "large")."""
    if name == "default":
        return _DEFAULT
    if name == "large":
        return _LARGE
    raise InputError(f"unknown synthetic dataset {name!r} (known: {', '.join(DATASET_NAMES)})")


def exam_spec(dataset: str, exam: str) -> ExamSpec:
    """One exam of a named dataset, by its name."""
    for spec in dataset_specs(dataset):
        if spec.name == exam:
            return spec
    known = ", ".join(s.name for s in dataset_specs(dataset))
    raise InputError(f"no exam {exam!r} in dataset {dataset!r} (known: {known})")


def _uid(spec: ExamSpec, *parts: object) -> str:
    return str(generate_uid(entropy_srcs=["drimlab", spec.name, str(spec.seed), *map(str, parts)]))


def _study_context(spec: ExamSpec, rng: np.random.Generator) -> iods.StudyContext:
    patient = make_patient(rng)
    day = datetime.date(2026, 1, 5) + datetime.timedelta(days=int(rng.integers(0, 300)))
    start = datetime.datetime.combine(day, datetime.time(8, 0)) + datetime.timedelta(
        minutes=int(rng.integers(0, 9 * 60))
    )
    serial = int(rng.integers(0, 10000))
    return iods.StudyContext(
        patient=patient,
        site=TEST_SITE,
        study_uid=_uid(spec, "study"),
        study_datetime=start,
        accession_number=f"TSE{day:%Y%m%d}{serial:04d}",
        accession_issuer_oid=str(generate_uid(entropy_srcs=["drimlab", TEST_SITE.institution])),
        study_id=f"E{serial:04d}",
        study_description=spec.description,
        referring_physician=make_physician(rng),
    )


def _series_context(
    spec: ExamSpec, study: iods.StudyContext, index: int, series: SeriesSpec
) -> iods.SeriesContext:
    return iods.SeriesContext(
        study=study,
        series_uid=_uid(spec, "series", index),
        # All series of one exam share the patient frame of reference (one table position).
        frame_of_reference_uid=_uid(spec, "frame-of-reference"),
        number=index + 1,
        description=series.description,
        modality="CT" if series.kind.startswith("ct") else series.kind[:2].upper(),
        body_part=series.body_part,
        series_datetime=study.study_datetime + datetime.timedelta(minutes=4 * index),
    )


def _localizer(
    series: iods.SeriesContext, sop_uid: str, rng: np.random.Generator, s: SeriesSpec
) -> Dataset:
    image = pixels.radiograph(rng, s.rows, s.columns, lateral=False)
    ds = iods.ct_image(series, sop_uid, 1, image, spacing=1.5, thickness=1.0, z=0.0, contrast=False)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "0", "-1"]
    ds.ImagePositionPatient = ["-192", "0", "0"]
    ds.WindowCenter, ds.WindowWidth = "1024", "2048"
    del ds.SliceLocation
    # A localizer is not in Hounsfield units (dciodvfy warns on RescaleType HU there).
    del ds.RescaleType
    return ds


def _instances(spec: ExamSpec) -> Iterator[tuple[iods.SeriesContext, Dataset]]:
    """Every instance of the exam, in order, built from the spec's seed."""
    unknown = sorted({s.kind for s in spec.series} - set(SERIES_KINDS))
    if unknown:  # checked before the first file is written
        raise InputError(f"exam {spec.name!r}: unknown series kind {', '.join(unknown)}")
    rng = np.random.default_rng(spec.seed)
    study = _study_context(spec, rng)
    for index, s in enumerate(spec.series):
        series = _series_context(spec, study, index, s)
        for number in range(1, s.instances + 1):
            sop_uid = _uid(spec, "instance", index, number)
            level = (number - 1) / max(s.instances - 1, 1)
            fov = 400.0 if s.rows >= 512 else 360.0
            if s.kind == "ct-localizer":
                ds = _localizer(series, sop_uid, rng, s)
            elif s.kind == "ct-axial":
                image = pixels.ct_slice(rng, s.rows, s.columns, level)
                ds = iods.ct_image(
                    series,
                    sop_uid,
                    number,
                    image,
                    spacing=fov / s.columns,
                    thickness=5.0 if s.instances < 100 else 1.25,
                    z=-(number - 1) * (5.0 if s.instances < 100 else 1.25),
                    contrast=s.variant == "contrast",
                )
            elif s.kind == "mr-axial":
                image = pixels.mr_slice(rng, s.rows, s.columns, level, s.variant)
                ds = iods.mr_image(
                    series,
                    sop_uid,
                    number,
                    image,
                    spacing=230.0 / s.columns,
                    thickness=6.0,
                    z=60.0 - (number - 1) * 6.0,
                    weighting=s.variant,
                )
            elif s.kind == "dx":
                image = pixels.radiograph(rng, s.rows, s.columns, lateral=s.variant == "LL")
                ds = iods.dx_image(
                    series, sop_uid, number, image, spacing=430.0 / s.columns, view=s.variant
                )
            else:
                cine = pixels.ultrasound_cine(rng, s.frames, s.rows, s.columns)
                ds = iods.us_cine(series, sop_uid, number, cine, frame_time_ms=33.3)
            yield series, ds


def _file_meta(ds: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def part10_bytes(ds: Dataset) -> bytes:
    """The dataset as a Part 10 file in Explicit VR Little Endian."""
    ds.file_meta = _file_meta(ds)
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file and a rename (never a half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        # dataset files are test data, not secrets: readable by a server running as another user
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_exam(
    spec: ExamSpec, out_dir: Path, *, progress: Callable[[int], None] | None = None
) -> list[Path]:
    """Write every instance of `spec` under `out_dir/<SeriesUID>/<SOPUID>.dcm`; return the paths."""
    paths: list[Path] = []
    for series, ds in _instances(spec):
        path = out_dir / series.series_uid / f"{ds.SOPInstanceUID}.dcm"
        write_atomically(path, part10_bytes(ds))
        paths.append(path)
        if progress is not None:
            progress(len(paths))
    return paths
