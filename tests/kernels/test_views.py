"""kernels.views: borrowed row views read and write what the slices they stand for do, and count no reference."""

import numba
import numpy as np
import pytest

from pixscale.kernels.views import prefetch, row, span


@numba.njit
def _rows_sum_and_fill(a, lo, hi, value):
    total = 0.0
    for i in range(a.shape[0]):
        v = row(a, i, lo, hi)
        for k in range(v.shape[0]):
            total += v[k]
            v[k] = value
    return total


@numba.njit
def _span_fill(a, lo, hi, value):
    v = span(a, lo, hi)
    for k in range(v.shape[0]):
        v[k] = value
    return v.shape[0]


@pytest.mark.parametrize("layout", ["C", "strided rows", "strided columns"])
def test_row_is_the_slice_it_stands_for(rng, layout):
    base = rng.random((9, 40))
    a = {"C": base[:, :20].copy(), "strided rows": base[::2, 3:23], "strided columns": base[:, ::2]}[layout]
    want_sum = a[:, 4:17].sum()
    want = a.copy()
    want[:, 4:17] = -1.0
    assert _rows_sum_and_fill(a, 4, 17, -1.0) == pytest.approx(want_sum)
    np.testing.assert_array_equal(a, want)
    assert _rows_sum_and_fill(a, 5, 5, 2.0) == 0.0  # an empty span touches nothing
    np.testing.assert_array_equal(a, want)


def test_span_writes_through_and_leaves_the_rest():
    a = np.arange(30, dtype=np.uint8)
    assert _span_fill(a, 7, 19, 0) == 12
    assert (a[7:19] == 0).all() and (a[:7] == np.arange(7)).all() and (a[19:] == np.arange(19, 30)).all()


def test_a_borrowed_view_holds_no_reference():
    """The view carries no memory-info pointer, so making many changes no reference count."""
    from sys import getrefcount

    a = np.zeros((200, 8))
    before = getrefcount(a)
    _rows_sum_and_fill(a, 0, 8, 1.0)
    assert getrefcount(a) == before and (a == 1.0).all()


@numba.njit
def _prefetch_every_row(a, lo, hi):
    for i in range(a.shape[0]):
        prefetch(a, i, lo, hi)
    return a.sum()


def test_prefetch_is_a_hint_that_changes_nothing(rng):
    a = rng.random((50, 300))
    before = a.copy()
    assert _prefetch_every_row(a, 0, 300) == pytest.approx(before.sum())
    assert _prefetch_every_row(a[::3, 7:], 5, 5) == pytest.approx(before[::3, 7:].sum())  # strided, empty
    np.testing.assert_array_equal(a, before)
