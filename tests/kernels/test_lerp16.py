"""The four-pixel horizontal pass (simd.lerp16, bilinear._gather4_runs) against the scalar pass, bit for bit."""

import numba
import numpy as np
import pytest

from pixscale.kernels import bilinear, rgba8
from pixscale.kernels.axis import axis_taps
from pixscale.kernels.simd import _lerp16_py, _lerp16w_py
from pixscale.kernels.store import store_premult4

DTYPES = [np.uint8, np.uint16, np.float32, np.float64]


@numba.njit
def _offsets(n_src, n_out, scale, src_c, dst_c, w0, w1, xo0, xo1):
    i0 = np.empty(n_out, np.int64)
    i1 = np.empty(n_out, np.int64)
    lo, hi = axis_taps(0, n_src, scale, src_c, dst_c, i0, i1, w0, w1)
    x_lo, x_hi, j_a, j_b = bilinear.column_offsets(i0, i1, lo, hi, 4, xo0, xo1)
    return lo, hi, x_lo, x_hi, j_a, j_b


def _float32_taps(n_src, scale, src_c, n_out=53):
    """The live columns' taps of 4-channel rows of ``n_src`` pixels: ``n, x_lo, x_hi, j_a, j_b, xo0, xo1, wx0, wx1``."""
    w = np.empty((2, n_out), np.float32)
    xo = np.zeros((2, n_out), np.uint64)
    lo, hi, x_lo, x_hi, j_a, j_b = _offsets(n_src, n_out, scale, src_c, 26.0, w[0], w[1], xo[0], xo[1])
    n = hi - lo
    return n, x_lo, x_hi, j_a, j_b, xo[0, :n].copy(), xo[1, :n].copy(), w[0, lo:hi].copy(), w[1, lo:hi].copy()


def _random(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    return rng.random(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("premult", [True, False])
@pytest.mark.parametrize(("scale", "src_c"), [(1.13, 20.3), (0.7, 9.1), (3.3, 1.0), (0.31, 36.5), (1.0, 18.5)])
@pytest.mark.parametrize("background", [False, True])
def test_runs_of_neighbouring_taps_are_bit_identical_to_the_scalar_pass(rng, dtype, premult, scale, src_c, background):
    """``background``: runs of pixels with alpha 0 under random colour, where the premultiplied pass
    of an unsigned source stores +0 without computing it."""
    work = np.float64 if dtype == np.float64 else np.float32
    n_src, n_out = 37, 53
    w = np.empty((2, n_out), work)
    xo = np.zeros((2, n_out), np.uint64)
    lo, hi, x_lo, x_hi, j_a, j_b = _offsets(n_src, n_out, scale, src_c, 26.0, w[0], w[1], xo[0], xo[1])
    n = hi - lo
    xo0, xo1 = xo[0, :n].copy(), xo[1, :n].copy()
    wx0, wx1 = w[0, lo:hi].copy(), w[1, lo:hi].copy()
    assert (xo1[j_a:j_b] == xo0[j_a:j_b] + 4).all()
    assert j_b - j_a >= n - 2 * (np.ceil(scale) + 1)  # only pixels with a clipped tap, at either end, are left out
    row = _random(rng, 4 * n_src, dtype)[4 * x_lo : 4 * x_hi]
    if background:
        row.reshape(-1, 4)[(np.arange(row.size // 4) // 5) % 2 == 0, 3] = 0
    want = np.empty(4 * n, work)
    bilinear._gather(row.astype(work), 4, xo0, xo1, wx0, wx1, premult, want)
    bits = np.uint64 if work == np.float64 else np.uint32

    def check(got):  # bit for bit, so -0.0 and 0.0 differ
        np.testing.assert_array_equal(got.view(bits), want.view(bits))

    for a, b in ((j_a, j_b), (j_a + 1, j_b), (j_a, j_b - 3), (0, 0)):  # any sub-run gives the same values
        got = np.full(4 * n, np.nan, work)
        bilinear._gather4_runs(row, xo0, xo1, wx0, wx1, premult, a, b, got)
        check(got)
    # A source row that is not contiguous is read pixel by pixel, through its stride.
    strided = np.repeat(row, 3)[::3]
    got = np.full(4 * n, np.nan, work)
    bilinear._gather4_runs(strided, xo0, xo1, wx0, wx1, premult, j_a, j_b, got)
    check(got)
    # The plain-Python twin used under NUMBA_DISABLE_JIT does the same.
    got = np.full(4 * n, np.nan, work)
    bilinear._gather4_runs(row, xo0, xo1, wx0, wx1, premult, 0, 0, got)
    for j in range(j_a, j_a + 4 * ((j_b - j_a) // 4), 4):
        _lerp16_py(row, xo0, wx0, wx1, j, got, premult)
    check(got)


def test_taps_that_are_not_one_run_of_neighbours_have_no_run():
    i0 = np.array([0, 1, 2, 5, 5, 6], np.int64)
    i1 = np.array([1, 2, 3, 5, 6, 7], np.int64)
    xo0, xo1 = np.zeros(6, np.uint64), np.zeros(6, np.uint64)

    @numba.njit
    def offsets(i0, i1, xo0, xo1):
        return bilinear.column_offsets(i0, i1, 0, 6, 4, xo0, xo1)

    assert offsets(i0, i1, xo0, xo1)[2:] == (0, 0)
    i0[3] = 3
    i1[3] = 4
    assert offsets(i0, i1, xo0, xo1)[2:] == (0, 6)


@numba.njit
def _window(row, xo0, xo1, wx0, wx1, premult, j_a, j_b, n, buf):
    ctl = np.empty(16 * max((j_b - j_a) // 4, 0), np.uint8)
    n_win = rgba8.window_controls(xo0, j_a, j_b, n, ctl)
    rgba8._gather4_window(row, xo0, xo1, wx0, wx1, premult, j_a, n_win, ctl, buf)
    return n_win


@pytest.mark.parametrize("premult", [True, False])
@pytest.mark.parametrize(("scale", "src_c"), [(1.13, 20.3), (1.0, 18.5), (3.3, 1.0), (1.76, 30.9), (0.7, 9.1)])
def test_byte_shuffle_windows_are_bit_identical_to_the_scalar_pass(rng, premult, scale, src_c):
    """uint8 RGBA: the upscale's groups of four read through two 16-byte windows and a byte shuffle
    (simd.lerp16_window), the groups whose windows would end past the row, and any downscale, as lerp16."""
    n_src = 37
    n, x_lo, x_hi, j_a, j_b, xo0, xo1, wx0, wx1 = _float32_taps(n_src, scale, src_c)
    row = _random(rng, 4 * n_src, np.uint8)[4 * x_lo : 4 * x_hi]
    row.reshape(-1, 4)[(np.arange(row.size // 4) // 3) % 2 == 0, 3] = 0  # background runs too
    want = np.empty(4 * n, np.float32)
    bilinear._gather(row.astype(np.float32), 4, xo0, xo1, wx0, wx1, premult, want)
    got = np.full(4 * n, np.nan, np.float32)
    n_win = _window(row, xo0, xo1, wx0, wx1, premult, j_a, j_b, row.size, got)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    groups = (j_b - j_a) // 4
    if scale >= 1:  # every group but those whose windows reach past the row's end
        last = int(xo0[j_a + 4 * n_win]) if n_win < groups else 0
        assert groups - 2 <= n_win <= groups and (n_win == groups or last + 20 > row.size)
    else:
        assert n_win < groups  # a downscale's group spans more than four pixels
    # The plain-Python twin used under NUMBA_DISABLE_JIT does the same (and checks the controls).
    ctl = np.empty(16 * groups, np.uint8)
    assert rgba8.window_controls.py_func(xo0, j_a, j_b, row.size, ctl) == n_win
    got[:] = np.nan
    rgba8._gather4_window(row, xo0, xo1, wx0, wx1, premult, 0, 0, ctl, got)  # every pixel one by one
    for g in range(n_win):
        _lerp16w_py(row, xo0, ctl, wx0, wx1, j_a + 4 * g, g, got, premult)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    # A source row that is not contiguous takes no window.
    strided = np.repeat(row, 3)[::3]
    got[:] = np.nan
    _window(strided, xo0, xo1, wx0, wx1, premult, j_a, j_b, row.size, got)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@numba.njit
def _divided_and_stored(rowf, xo0, xo1, wx0, wx1, j_a, j_b, maxval, out_v, out_s):
    buf = np.empty(out_v.shape[0], rowf.dtype)  # a value for each output value
    rgba8._gather4_divided(rowf, xo0, xo1, wx0, wx1, j_a, j_b, maxval, buf, out_v)
    bilinear._gather4_runs(rowf, xo0, xo1, wx0, wx1, False, j_a, j_b, buf)
    for j in range(out_s.shape[0] // 4):
        o = 4 * j
        store_premult4(buf[o], buf[o + 1], buf[o + 2], buf[o + 3], maxval, out_s, o)


@pytest.mark.parametrize(("scale", "src_c"), [(0.7, 9.1), (0.31, 36.5), (0.999, 18.2)])
def test_the_downscale_pass_divides_and_stores_as_the_pass_then_the_store(rng, scale, src_c):
    """simd.lerp16_divide (the premultiplied downscale's pass and store in one vector) stores the bytes
    of the straight pass into floats followed by store_premult4, alpha 0 and full alpha included."""
    n_src = 37
    n, x_lo, x_hi, j_a, j_b, xo0, xo1, wx0, wx1 = _float32_taps(n_src, scale, src_c)
    alpha = rng.choice(np.float32([0, 0, 0.3, 0.5, 1, 200, 255]), n_src)
    colour = rng.uniform(0, 255, (n_src, 3)).astype(np.float32)
    colour[::5] = 255
    rowf = np.concatenate([colour * alpha[:, None], alpha[:, None]], axis=1).astype(np.float32).ravel()
    rowf = rowf[4 * x_lo : 4 * x_hi].copy()  # a premultiplied row, as the vertical blend leaves it
    got, want = np.full(4 * n, 7, np.uint8), np.full(4 * n, 9, np.uint8)
    _divided_and_stored(rowf, xo0, xo1, wx0, wx1, j_a, j_b, np.float32(255), got, want)
    np.testing.assert_array_equal(got, want)
    assert (got.reshape(-1, 4)[:, 3] == 0).any() and (got.reshape(-1, 4)[:, 3] > 0).any()
    # The plain-Python twin used under NUMBA_DISABLE_JIT stores the same bytes.
    from pixscale.kernels.simd import _lerp16_divide_py

    py = want.copy()
    for j in range(j_a, j_a + 4 * ((j_b - j_a) // 4), 4):
        _lerp16_divide_py(rowf, xo0, wx0, wx1, j, np.float32(255), py)
    np.testing.assert_array_equal(py, want)
