"""Numba kernels: the fused measure pass (count, coordinate sums and bounding box of an alpha channel).

Kernels are private and dumb: they receive validated arrays of a known dtype
and a preallocated ``out``.  They never convert, allocate what the caller can
pass, or raise user-facing errors.  The specification of each kernel is its
NumPy twin in :mod:`pixscale.reference`.
"""

import numpy as np

from . import jit, jit_helper

_S24 = np.uint32(24)


@jit_helper
def _value(v, word):
    """``v``, or the alpha byte of an RGBA8 pixel read as a word (``v >> 24``) unless ``word`` is None.

    ``word is None`` is decided at compile time, and the shift is a constant, so
    both specialisations vectorise as a hand-written loop would.
    """
    if word is None:
        return v
    return v >> _S24


@jit_helper
def _count_row(row, thr, word, alpha_row):
    """Count and index sum of ``_value(row[j], word) > thr`` (branch-free, so it vectorises).

    Each ``_value`` is also stored into ``alpha_row`` unless it is None (decided
    at compile time).
    """
    c = 0
    s = 0
    for j in range(row.shape[0]):
        v = _value(row[j], word)
        if alpha_row is not None:
            alpha_row[j] = v
        m = 1 if v > thr else 0
        c += m
        s += j * m
    return c, s


@jit_helper
def _measure(rows, thr, word, out, unpack):
    """Count, coordinate sums and bounding box of ``_value(rows[i, j], word) > thr`` in one pass.

    With ``unpack`` (an (H, W) array, or None) every ``_value`` is also stored there.
    """
    h, w = rows.shape
    count = 0
    sum_x = 0
    sum_y = 0
    x0 = w
    x1 = 0
    y0 = h
    y1 = 0
    for i in range(h):
        row = rows[i]
        c, s = _count_row(row, thr, word, None if unpack is None else unpack[i])
        if c == 0:
            continue
        count += c
        sum_x += s
        sum_y += i * c
        if y0 == h:
            y0 = i
        y1 = i + 1
        # The row has a hit: only the ends that could widen the box are scanned.
        j = 0
        while j < x0 and not _value(row[j], word) > thr:
            j += 1
        x0 = min(x0, j)
        j = w - 1
        while j >= x1 and not _value(row[j], word) > thr:
            j -= 1
        x1 = max(x1, j + 1)
    out[0] = count
    out[1] = sum_x
    out[2] = sum_y
    out[3] = x0
    out[4] = y0
    out[5] = x1
    out[6] = y1


@jit(cfunc_wrapper=True)
def measure_alpha(alpha, thr, out, unpacked=None):
    """Count, coordinate sums and bounding box of ``alpha > thr`` in one pass.

    ``out`` (int64, 7) receives ``count, sum_x, sum_y, x0, y0, x1, y1``; the
    box is half-open and ``x0 = W, y0 = H, x1 = y1 = 0`` when nothing passes.
    With ``unpacked`` (C-contiguous, (H, W), ``alpha``'s dtype) a strided
    ``alpha`` is also copied there in the same pass.
    """
    _measure(alpha, thr, None, out, unpacked)


@jit(cfunc_wrapper=True)
def measure_words(words, thr, out, alpha=None):
    """:func:`measure_alpha` for RGBA8 pixels read as little-endian uint32 words.

    Alpha is the top byte of each word; reading whole pixels keeps the loop
    contiguous, so it vectorises where a stride-4 byte loop does not.
    ``thr`` is a uint32 on the 0-255 scale.  With ``alpha`` (uint8, (H, W))
    the alpha channel is unpacked there in the same pass.
    """
    _measure(words, thr, True, out, alpha)
