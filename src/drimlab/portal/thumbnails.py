"""A thumbnail per series: its middle image, windowed to 8 bits, as a small PNG."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image

from drimlab.datasets.catalog import SeriesInfo

SIZE = 128


def _pick(series: SeriesInfo) -> Path | None:
    instances = [i for i in series.instances if i.files]
    if not instances:
        return None
    middle = instances[len(instances) // 2]
    # an uncompressed encoding decodes without codecs when the catalogue has one
    for stored in middle.files:
        if stored.transfer_syntax_uid in ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2"):
            return stored.path
    return middle.files[0].path


def _to_8bit(pixels: np.ndarray) -> np.ndarray:
    data = pixels.astype(np.float64)
    low, high = np.percentile(data, (1, 99)) if data.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    scaled = np.clip((data - low) / (high - low), 0.0, 1.0) * 255.0
    return scaled.astype(np.uint8)


def thumbnail_png(series: SeriesInfo, size: int = SIZE) -> bytes | None:
    """The series' thumbnail as PNG bytes; None when it has no image that decodes."""
    path = _pick(series)
    if path is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(path)
            pixels = dataset.pixel_array
    except Exception:  # no pixel data, or no codec for it: the page shows a placeholder
        return None
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if frames > 1 and pixels.ndim >= 3:
        pixels = pixels[frames // 2]
    if pixels.ndim == 3 and pixels.shape[-1] in (3, 4):
        image = Image.fromarray(_to_8bit(pixels[..., :3]), mode="RGB")
    else:
        if pixels.ndim != 2:
            return None
        gray = _to_8bit(pixels)
        if str(getattr(dataset, "PhotometricInterpretation", "")) == "MONOCHROME1":
            gray = 255 - gray
        image = Image.fromarray(gray, mode="L")
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
