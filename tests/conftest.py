"""Shared test image factories (seeded, built in code)."""

import pathlib

import imageio.v3 as iio
import numpy as np
import pytest

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]
DATA = pathlib.Path(__file__).parent / "data"


def full_scale(dtype):
    return float(np.iinfo(dtype).max) if np.dtype(dtype).kind == "u" else 1.0


def random_image(rng, shape, dtype):
    """Uniform random values over the dtype's whole range (floats in [0, 1])."""
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    return rng.random(shape).astype(dtype)


def soft_shape(rng, size=256, *, parts=3, edge=1.5):
    """A float alpha in [0, 1] of a union of soft-edged rotated ellipses, off-centre."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    alpha = np.zeros((size, size))
    cx, cy = rng.uniform(0.35, 0.65, 2) * size
    for _ in range(parts):
        a, b = rng.uniform(0.04, 0.16, 2) * size
        theta = rng.uniform(0, np.pi)
        ox, oy = rng.normal(0, 0.06, 2) * size
        u = (xx - cx - ox) * np.cos(theta) + (yy - cy - oy) * np.sin(theta)
        v = -(xx - cx - ox) * np.sin(theta) + (yy - cy - oy) * np.cos(theta)
        dist = (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1) * min(a, b)  # ~signed distance, px
        alpha = np.maximum(alpha, np.clip(0.5 - dist / (2 * edge), 0, 1))
    return alpha


def rgba_from_alpha(rng, alpha, dtype=np.uint8, *, garbage=True):
    """An RGBA image of ``dtype`` with random colour (garbage under alpha 0 if asked)."""
    top = full_scale(dtype)
    h, w = alpha.shape
    img = np.empty((h, w, 4), dtype=np.float64)
    img[..., :3] = rng.random((h, w, 3)) if garbage else 0.5
    img[..., 3] = alpha
    img *= top
    if np.dtype(dtype).kind == "u":
        img = np.floor(img + 0.5)
    return img.astype(dtype)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def emoji_images():
    """The vendored 64x64 RGBA animal emoji (see tests/data/LICENSE.md)."""
    return {p.stem: iio.imread(p) for p in sorted(DATA.glob("*.png"))}
