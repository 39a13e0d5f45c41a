"""Exact mode's probe: the count that interpolates only the object's edge against the reference and the plain count."""

import numpy as np
import pytest

from pixscale import reference
from pixscale._validate import threshold_value
from pixscale._warp import work_dtype
from pixscale.kernels import count as _kernels

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]


def _alpha(rng, kind, shape, dtype):
    """A seeded alpha of ``kind`` in ``dtype``: values in [0, 1] scaled to the dtype's range."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w] + 0.5
    cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
    ry, rx = rng.uniform(0.2, 0.4) * h, rng.uniform(0.2, 0.4) * w
    d = np.hypot((y - cy) / ry, (x - cx) / rx)  # 1 on the ellipse
    if kind == "hard":
        v = (d < 1).astype(float)
    elif kind == "soft":
        v = np.clip((1.3 - d) / 0.6, 0, 1)
    elif kind == "border":  # an ellipse cut by the image's edges
        v = np.clip((1.2 - np.hypot((y - 0.2 * h) / (0.5 * h), (x - 0.9 * w) / (0.6 * w))) / 0.4, 0, 1)
    elif kind == "holes":  # a ring, a second blob and specks: rows of several runs
        v = ((d > 0.5) & (d < 1)).astype(float) * rng.uniform(0.5, 1.0)
        v[np.hypot(y - 0.85 * h, x - 0.15 * w) < 0.1 * h] = 1.0
        v[rng.random(shape) < 0.02] = rng.uniform(0, 1)
    elif kind == "flat" and np.dtype(dtype).kind == "f":
        # A ulp either side of 0.5 (the threshold 127.5 of float alpha): weights that sum to 1 less
        # or more an ulp tip a pixel to the other side.
        half = np.dtype(dtype).type(0.5)
        v = np.where(d < 1, np.nextafter(half, 1, dtype=dtype), 0).astype(dtype)
        v[np.abs(d - 0.5) < 0.2] = np.nextafter(half, 0, dtype=dtype)
        v[np.abs(d - 0.5) < 0.1] = half
        return v
    elif kind == "flat":
        v = np.where(d < 1, 0.5, 0.0)
    else:  # noise: every pixel on either side
        v = rng.random(shape)
    if np.dtype(dtype).kind == "u":
        return np.round(v * np.iinfo(dtype).max).astype(dtype)
    return v.astype(dtype)


def _box(alpha, thr):
    """The box outside which alpha is at most the probe's ``lo`` level (as exact mode's support box is)."""
    lo, _ = _kernels.sure_levels(alpha.dtype, thr)
    ys, xs = np.nonzero(alpha > lo)
    if not len(ys):
        return (0, 0, 0, 0)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["hard", "soft", "border", "holes", "flat", "noise"])
def test_span_count_matches_the_reference_and_the_plain_count(rng, dtype, kind):
    """warp_count with a ``memo`` (count_spans) counts what the reference warp counts, at many seeded scales."""
    shape = (int(rng.integers(30, 60)), int(rng.integers(30, 60)))
    alpha = _alpha(rng, kind, shape, dtype)
    rounding = np.dtype(dtype).kind == "u"
    top = np.iinfo(dtype).max if rounding else 0.0
    consts = np.array([0.0, 0.5, 1.0, top], dtype=work_dtype(dtype))
    scales = [1.0, 0.5, 2.0, *rng.uniform(0.15, 3.5, 14)]
    for threshold in [10, 127.5, 0.0]:
        thr = threshold_value(alpha.dtype, threshold)
        memo = {"box": _box(alpha, thr)}
        for scale in scales:
            scale = float(scale)
            cx, cy = rng.uniform(-0.1, 1.1) * shape[1], rng.uniform(-0.1, 1.1) * shape[0]
            ho, wo = int(shape[0] * scale) + 6, int(shape[1] * scale) + 6
            dx, dy = rng.uniform(0, wo), rng.uniform(0, ho)
            r0, c0 = int(rng.integers(0, ho // 3)), int(rng.integers(0, wo // 3))
            args = (scale, cx, cy, dx, dy, r0, ho, c0, wo, rounding, consts)
            want = reference.probe_count(alpha, thr, scale, (cx, cy), (dx, dy), (r0, ho), (c0, wo))
            assert _kernels.warp_count(alpha, thr, *args, memo) == want, (scale, threshold)
            # A window past the canvas's edges: the plain count of the full warp.
            wide = (scale, cx, cy, dx, dy, -5, ho + 5, -7, wo + 3, rounding, consts)
            assert _kernels.warp_count(alpha, thr, *wide, memo) == _kernels.warp_count(alpha, thr, *wide)


def test_sure_levels_keep_a_margin_for_float_alpha():
    assert _kernels.sure_levels(np.uint8, np.uint8(25)) == (25, 25)
    lo, hi = _kernels.sure_levels(np.float32, np.float32(0.5))
    assert lo < np.float32(0.5) < hi and lo.dtype == hi.dtype == np.float32
    assert _kernels.sure_levels(np.float64, 0.0)[0] == 0.0
    assert _kernels.sure_levels(np.float64, 5e-324)[0] == -np.inf  # no level below a subnormal threshold


def _table_of(alpha, lo, hi, box):
    """The row table of probe_rows' docstring, row by row in plain Python (the first of equal runs)."""
    h, w = alpha.shape
    x0, y0, x1, y1 = box
    rows = np.tile(np.array([w, -1, w, -1, 0, w - 1], np.int64), (h, 1))
    for y in range(y0, y1):
        over = [x for x in range(x0, x1) if alpha[y, x] > lo]
        if not over:
            continue
        first, last = over[0], over[-1]
        rows[y] = (first, last, w, -1, w, -1)
        for col, test in ((2, lambda v: v > hi), (4, lambda v: not v > lo)):
            best, x = 0, first
            while x <= last:
                e = x
                while e <= last and test(alpha[y, e]):
                    e += 1
                if e - x > best:
                    best, rows[y, col], rows[y, col + 1] = e - x, x, e - 1
                x = max(e, x + 1)
    return rows


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["hard", "soft", "holes", "noise"])
def test_the_row_table_is_its_specification(rng, dtype, kind):
    """probe_rows' hulls, longest runs and longest gaps, in boxes of every width (blocks of 32 and tails)."""
    from pixscale.kernels.probe import probe_rows

    shape = (int(rng.integers(20, 40)), int(rng.integers(40, 140)))
    alpha = _alpha(rng, kind, shape, dtype)
    for threshold in [10, 127.5]:
        lo, hi = _kernels.sure_levels(alpha.dtype, threshold_value(alpha.dtype, threshold))
        for _ in range(6):
            x0, x1 = sorted(int(v) for v in rng.integers(0, shape[1] + 1, 2))
            y0, y1 = sorted(int(v) for v in rng.integers(0, shape[0] + 1, 2))
            rows = np.full((shape[0], 6), -7, np.int64)
            probe_rows(alpha, lo, hi, x0, y0, x1, y1, rows)
            np.testing.assert_array_equal(rows, _table_of(alpha, lo, hi, (x0, y0, x1, y1)))
