"""The 16-lane premultiplied stores of :mod:`pixscale.kernels.simd` against the scalar store, pixel for pixel."""

import numba
import numpy as np
import pytest

from pixscale.kernels.simd import blend_store16, store16
from pixscale.kernels.store import store_premult4


@numba.njit
def _vector(ba, bb, a, b, maxval, out_v, out_b):
    for j in range(ba.shape[0] // 16):
        store16(ba, maxval, out_v, 16 * j)
        blend_store16(ba, bb, a, b, maxval, out_b, 16 * j)


@numba.njit
def _scalar(ba, bb, a, b, maxval, out_v, out_b):
    for j in range(ba.shape[0] // 4):
        o = 4 * j
        store_premult4(ba[o], ba[o + 1], ba[o + 2], ba[o + 3], maxval, out_v, o)
        c = [a * ba[o + k] + b * bb[o + k] for k in range(4)]
        store_premult4(c[0], c[1], c[2], c[3], maxval, out_b, o)


def _premultiplied(rng, n, top, alphas):
    """Rows of what a bilinear premultiplied pass of an unsigned source holds: colour in [0, top] times alpha."""
    buf = (rng.uniform(0, top, n).astype(np.float32) * np.repeat(alphas, 4)).astype(np.float32)
    buf[3::4] = alphas
    return buf


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_store16_and_blend_store16_match_store_premult4(rng, dtype):
    top = np.float32(np.iinfo(dtype).max)
    n = 64 * 16
    edges = np.array([0, 0.25, np.nextafter(0.5, 0), 0.5, np.nextafter(0.5, 1), 1, top - 0.5, top])
    pick = lambda: rng.choice(np.concatenate([edges, rng.uniform(0, top, 8)]), n // 4).astype(np.float32)  # noqa: E731
    # store16: premultiplied colour anywhere around [0, alpha * top] (clipping both ways), alpha
    # on and around the 0.5 threshold, 0, 1, the top and past it, and random.
    wild = rng.uniform(-0.2 * top, 1.3 * top, n).astype(np.float32)
    wild[3::4] = np.where(rng.random(n // 4) < 0.1, top + 3, pick())
    # blend_store16: its domain, two premultiplied rows blended (colour at most alpha times the top,
    # colour at the top included), where it leaves the clip out.
    ba, bb = _premultiplied(rng, n, top, pick()), _premultiplied(rng, n, top, pick())
    ba[:16:4], ba[3:16:4] = top, top  # full colour at full alpha
    for a in (np.float32(1.0), np.float32(0.3), np.float32(0.0)):
        b = np.float32(1.0) - a
        got = np.zeros(n, dtype), np.zeros(n, dtype)
        want = np.zeros(n, dtype), np.zeros(n, dtype)
        _vector(wild, bb, a, b, top, got[0], np.zeros(n, dtype))
        _scalar(wild, bb, a, b, top, want[0], np.zeros(n, dtype))
        _vector(ba, bb, a, b, top, np.zeros(n, dtype), got[1])
        _scalar(ba, bb, a, b, top, np.zeros(n, dtype), want[1])
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_blend_store16_stores_full_colour_at_full_alpha_without_its_clip():
    """White at alpha 255 blended with white at alpha 0.7 (premultiplied): 255 in every colour lane,
    where a quotient that rounded past 255.5 would wrap around to 0 without the clip."""
    ba = np.tile(np.float32([255 * 255, 255 * 255, 255 * 255, 255]), 4)  # colour times alpha, alpha
    bb = np.tile(np.float32([255 * 0.7, 255 * 0.7, 255 * 0.7, 0.7]), 4).astype(np.float32)
    for a in np.linspace(0, 1, 101, dtype=np.float32):
        got, want = np.zeros(16, np.uint8), np.zeros(16, np.uint8)
        _vector(ba, bb, a, np.float32(1.0) - a, np.float32(255), np.zeros(16, np.uint8), got)
        _scalar(ba, bb, a, np.float32(1.0) - a, np.float32(255), np.zeros(16, np.uint8), want)
        np.testing.assert_array_equal(got, want)
        assert (got.reshape(4, 4)[:, :3] == 255).all() or a * 255 + (1 - a) * 0.7 < 0.5


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_groups_of_four_transparent_pixels_store_what_store_premult4_stores(rng, dtype):
    """Four pixels whose alphas all stay below 0.5 take a shortcut (16 zeros): the same bits as the scalar store;
    a group with one visible pixel among them does the whole arithmetic."""
    top = np.float32(np.iinfo(dtype).max)
    n = 256 * 16
    low = np.array([0.0, 1e-30, 0.1, 0.25, np.nextafter(0.5, 0)], np.float32)
    high = np.array([0.5, np.nextafter(0.5, 1), 1.0, top], np.float32)

    def alphas():
        al = rng.choice(low, n // 4)
        visible = rng.random(n // 4) < 0.1  # about a third of the groups get one pixel at or above 0.5
        al[visible] = rng.choice(high, visible.sum())
        return al

    ba, bb = _premultiplied(rng, n, top, alphas()), _premultiplied(rng, n, top, alphas())
    for a in (np.float32(1.0), np.float32(0.5), np.float32(0.0)):
        b = np.float32(1.0) - a
        got = np.full(n, 7, dtype), np.full(n, 7, dtype)
        want = np.full(n, 7, dtype), np.full(n, 7, dtype)
        _vector(ba, bb, a, b, top, *got)
        _scalar(ba, bb, a, b, top, *want)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        groups = got[1].reshape(-1, 16)
        assert (groups == 0).all(axis=1).sum() > 10  # the shortcut ran
        assert (groups != 0).any(axis=1).sum() > 10  # and so did the whole arithmetic
