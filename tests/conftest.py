"""Shared fixtures: a seeded generator and the vendored real images."""

import pathlib

import imageio.v3 as iio
import numpy as np
import pytest

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def emoji_images():
    """The vendored 64x64 RGBA animal emoji (see tests/data/LICENSE.md)."""
    return {p.stem: iio.imread(p) for p in sorted(DATA.glob("1f*.png"))}
