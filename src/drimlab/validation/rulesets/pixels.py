"""DICOM: pixel data a viewer can show (PS3.5 §8, Annex A; PS3.3 C.7.6.3).

The streaming validator decodes each sampled part with the codec its transfer syntax names
(`validation.pixels`); these rules judge what it found. Decoding is on by default in the
`drim-m` profile and bounded by `--pixel-sample N`; a part that was not decoded leaves the
rules not applicable to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from drimlab.validation.findings import Finding, Location, Severity
from drimlab.validation.pixels import PixelFacts
from drimlab.validation.rules import CATALOGUE
from drimlab.validation.subjects import NotApplicable, PartSubject

ERROR, INFO = Severity.ERROR, Severity.INFO
PIXEL_DATA = "(7FE0,0010)"


def _pixels(subject: PartSubject) -> PixelFacts:
    if subject.part.pixels is None:
        raise NotApplicable
    return subject.part.pixels


def _where(subject: PartSubject) -> Location:
    return Location(part=subject.part.index, tag_path=PIXEL_DATA)


@CATALOGUE.rule(
    "DICOM-011",
    "pixel-data-undecodable",
    severity=ERROR,
    summary="Each part's pixel data must decode with the codec its transfer syntax names",
    what="Every frame of the part's Pixel Data decodes with a decoder of its File Meta transfer "
    "syntax (RLE, JPEG-LS, JPEG 2000, JPEG baseline and extended, HTJ2K, uncompressed), frame "
    "by frame. A transfer syntax no decoder of this installation handles (JPEG Lossless 4.70, "
    "MPEG) is reported as info: not decoded, not the source's fault.",
    why="A part that does not decode is an image the viewer cannot show: the physician sees a "
    "black frame or an error instead of the patient's image, although every header checks out. "
    "A damaged codestream or a transfer syntax label that does not match the encoding cause it.",
    bad="(RLE part whose segment offsets point past the end of the fragment)",
    good="(every frame of the RLE part decodes to Rows x Columns samples)",
    references=("PS3.5 §8.2", "PS3.5 Annex A.4", "PS3.5 Annex G (RLE)", "PS3.18 §8.7.3"),
    subject="part",
)
def pixel_data_undecodable(subject: PartSubject) -> Iterator[Finding]:
    pixels = _pixels(subject)
    rule = CATALOGUE["DICOM-011"]
    if pixels.not_decoded is not None:
        yield rule.finding(
            f"pixel data not decoded: {pixels.not_decoded}", _where(subject), severity=INFO
        )
    elif pixels.error is not None:
        yield rule.finding(
            f"pixel data in {pixels.transfer_syntax} does not decode: {pixels.error}",
            _where(subject),
            expected=f"{pixels.frames_expected} decodable frame(s)",
            actual=f"{pixels.frames_decoded} frame(s) decoded before the failure",
        )


@CATALOGUE.rule(
    "DICOM-012",
    "pixel-data-geometry-mismatch",
    severity=ERROR,
    summary="Pixel data must hold the frames and sizes its attributes announce",
    what="The number of frames in the Pixel Data equals Number of Frames (1 when absent); each "
    "decoded frame has Rows x Columns x Samples per Pixel samples; uncompressed Pixel Data has "
    "exactly the length Rows, Columns, Samples per Pixel, Bits Allocated and Number of Frames "
    "give (plus one padding byte to an even length).",
    why="A viewer lays the pixels out from these attributes: a missing frame, an extra one or a "
    "frame of another size shows a truncated cine loop, a sheared image or nothing at all.",
    bad="Number of Frames 50, 48 frames in the pixel data",
    good="Number of Frames 48, 48 frames of 192 x 256",
    references=("PS3.3 C.7.6.3", "PS3.3 C.7.6.6", "PS3.5 §8.1.1", "PS3.5 A.4"),
    subject="part",
)
def pixel_data_geometry_mismatch(subject: PartSubject) -> Iterator[Finding]:
    pixels = _pixels(subject)
    if pixels.not_decoded is not None:
        raise NotApplicable
    for problem in pixels.geometry:
        yield CATALOGUE["DICOM-012"].finding(
            problem,
            _where(subject),
            expected=f"{pixels.frames_expected} frame(s) of {pixels.rows} x {pixels.columns}"
            f" x {pixels.samples_per_pixel}",
            actual=f"{pixels.frames_decoded} frame(s) decoded",
        )
