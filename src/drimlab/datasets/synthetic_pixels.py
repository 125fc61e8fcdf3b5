"""Image-like synthetic pixels: smooth phantoms plus seeded noise, exact on every machine.

Only IEEE-exact arithmetic is used (+, -, *, /, sqrt, comparisons) and noise is drawn as
integers, so the same seed gives the same pixels whatever the CPU or its maths library.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatImage = npt.NDArray[np.float64]
UInt16Image = npt.NDArray[np.uint16]
UInt8Image = npt.NDArray[np.uint8]


def _grid(rows: int, columns: int) -> tuple[FloatImage, FloatImage]:
    """Normalised coordinates in [-1, 1] as a row (x, rightwards) and a column (y, downwards).

    Kept one-dimensional so that shapes are computed by broadcasting, not on full grids.
    """
    y = (np.arange(rows, dtype=np.float64)[:, None] * 2 + 1) / rows - 1
    x = (np.arange(columns, dtype=np.float64)[None, :] * 2 + 1) / columns - 1
    return x, y


def _ellipse(
    grid: tuple[FloatImage, FloatImage], cx: float, cy: float, rx: float, ry: float
) -> npt.NDArray[np.bool_]:
    """Mask of the ellipse of centre (cx, cy) and radii (rx, ry) on a `_grid`."""
    x, y = grid
    dx = (x - cx) / rx
    dy = (y - cy) / ry
    return np.asarray(dx * dx + dy * dy <= 1.0)


def _noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> FloatImage:
    """Near-Gaussian noise of standard deviation `sigma`, from integers only (Irwin-Hall)."""
    draws = rng.integers(0, 1024, size=(4, *shape), dtype=np.int32).sum(axis=0)
    # The sum of 4 uniforms on [0, 1024) has mean 2046 and standard deviation ~591.
    return np.asarray((draws - 2046) * (sigma / 591.0), dtype=np.float64)


def _to_uint16(image: FloatImage, bits_stored: int) -> UInt16Image:
    return np.clip(np.rint(image), 0, (1 << bits_stored) - 1).astype(np.uint16)


def ct_slice(rng: np.random.Generator, rows: int, columns: int, level: float) -> UInt16Image:
    """An axial trunk CT slice, `level` from 0 (lung apex) to 1 (pelvis); stored = HU + 1024."""
    grid = _grid(rows, columns)
    x, y = grid
    hu = np.full((rows, columns), -1000.0)
    hu[_ellipse(grid, 0, 0.05, 0.86, 0.62)] = -100.0  # subcutaneous fat
    hu[_ellipse(grid, 0, 0.05, 0.80, 0.56)] = 40.0  # soft tissue
    hu = hu + 25.0 * (1 - x * x)  # slow shading keeps lossless codecs honest
    if level < 0.45:
        lung = 0.55 - abs(level - 0.25)
        hu[_ellipse(grid, -0.38, -0.02, 0.30 * lung / 0.3, 0.42)] = -850.0
        hu[_ellipse(grid, 0.38, -0.02, 0.30 * lung / 0.3, 0.42)] = -850.0
        hu[_ellipse(grid, 0.08, 0.05, 0.22, 0.20)] = 45.0  # heart
        hu[_ellipse(grid, -0.05, 0.30, 0.06, 0.06)] = 180.0  # aorta
    else:
        hu[_ellipse(grid, -0.30, -0.05, 0.36, 0.30 * (1.2 - level))] = 60.0  # liver
        hu[_ellipse(grid, 0.40, 0.20, 0.12, 0.16)] = 35.0  # kidney
        hu[_ellipse(grid, -0.40, 0.20, 0.12, 0.16)] = 35.0  # kidney
        hu[_ellipse(grid, 0.25, -0.20, 0.18, 0.12)] = -400.0  # bowel gas
    hu[_ellipse(grid, 0, 0.42, 0.11, 0.10)] = 700.0  # vertebral body
    hu[_ellipse(grid, 0, 0.42, 0.07, 0.06)] = 250.0  # its marrow
    hu[np.broadcast_to(y > 0.72, hu.shape)] = 200.0  # table
    hu[np.broadcast_to(y > 0.76, hu.shape)] = -1000.0
    return _to_uint16(hu + 1024.0 + _noise(rng, (rows, columns), 12.0), 12)


def mr_slice(
    rng: np.random.Generator, rows: int, columns: int, level: float, weighting: str
) -> UInt16Image:
    """An axial brain MR slice, `level` from 0 (vertex) to 1 (skull base), T1 or T2 contrast."""
    grid = _grid(rows, columns)
    x, y = grid
    t2 = weighting.upper() == "T2"
    size = 0.55 + 0.35 * (1 - (2 * level - 1) ** 2)
    signal = np.zeros((rows, columns))
    signal[_ellipse(grid, 0, 0, 0.78 * size, 0.92 * size)] = 900.0 if not t2 else 300.0  # scalp
    signal[_ellipse(grid, 0, 0, 0.72 * size, 0.86 * size)] = 80.0  # skull
    signal[_ellipse(grid, 0, 0, 0.68 * size, 0.82 * size)] = 700.0 if t2 else 600.0  # grey
    signal[_ellipse(grid, 0, 0, 0.56 * size, 0.70 * size)] = 550.0 if t2 else 800.0  # white
    ventricle = 1400.0 if t2 else 150.0
    signal[_ellipse(grid, -0.10, -0.05, 0.06, 0.25 * size)] = ventricle
    signal[_ellipse(grid, 0.10, -0.05, 0.06, 0.25 * size)] = ventricle
    signal *= 1.1 - 0.2 * (x * x + y * y)  # receive-coil bias field
    noisy = signal + _noise(rng, (rows, columns), 15.0)
    return _to_uint16(np.abs(noisy), 12)


def radiograph(rng: np.random.Generator, rows: int, columns: int, lateral: bool) -> UInt16Image:
    """A chest radiograph (MONOCHROME2: bone bright, lungs dark), frontal or lateral."""
    grid = _grid(rows, columns)
    x, y = grid
    image = np.full((rows, columns), 300.0)
    body = _ellipse(grid, 0, 0.1, 0.55 if lateral else 0.85, 1.05)
    image[body] = 2200.0
    if lateral:
        image[_ellipse(grid, -0.05, -0.05, 0.35, 0.55)] = 1300.0
        image[_ellipse(grid, 0.38, 0.05, 0.08, 0.75)] = 3000.0  # spine
    else:
        image[_ellipse(grid, -0.38, -0.05, 0.28, 0.60)] = 1100.0
        image[_ellipse(grid, 0.38, -0.05, 0.28, 0.60)] = 1100.0
        image[_ellipse(grid, 0.08, 0.25, 0.22, 0.25)] = 2500.0  # heart shadow
        image[np.asarray(abs(x) < 0.06) & body] = 3000.0  # spine
        # Ribs: a triangle wave along y, brighter where it peaks.
        phase = (y + 1) * 6 - np.floor((y + 1) * 6)
        ribs = np.asarray(abs(phase - 0.5) < 0.12) & (image == 1100.0)
        image[ribs] = 1700.0
    image += 200.0 * y  # heel effect
    return _to_uint16(image + _noise(rng, (rows, columns), 20.0), 12)


def ultrasound_cine(rng: np.random.Generator, frames: int, rows: int, columns: int) -> UInt8Image:
    """An 8-bit ultrasound cine loop: a sector with speckle and a dark structure that breathes."""
    grid = _grid(rows, columns)
    x, y = grid
    depth = (y + 1) / 2
    sector = np.asarray(abs(x) <= depth * 0.9) & np.asarray(depth > 0.05)
    cine = np.zeros((frames, rows, columns), dtype=np.uint8)
    for index in range(frames):
        # A triangle wave in time: the structure swells and shrinks once every 16 frames.
        t = (index % 16) / 16
        beat = 1 - abs(2 * t - 1)
        tissue = 110.0 - 50.0 * depth
        image = np.where(sector, tissue, 0.0)
        cavity = _ellipse(grid, 0, 0.15, 0.22 + 0.06 * beat, 0.30 + 0.05 * beat)
        image[cavity & sector] = 12.0
        speckle = rng.integers(0, 64, size=(rows, columns)).astype(np.float64)
        image = np.where(sector, image + speckle - 32.0, 0.0)
        cine[index] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return cine
