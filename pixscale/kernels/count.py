"""Exact mode's count of warped alpha, :func:`warp_count`: the plain count and the span count, one entry point.

The plain count warps the alpha with the kernel the image's own warp
compiles (:mod:`pixscale.kernels.bilinear`) and counts; the span count
(:mod:`pixscale.kernels.probe`) interpolates only the object's edge, with the
same arithmetic, so the count is the same.  Which one a probe uses is decided
in :func:`pixscale._warp.bilinear_count`.  Plain Python around the kernels.
"""

import numpy as np

from .bilinear import warp_alpha, warp_window, warp_window4
from .probe import count_spans, probe_rows
from .taps import count_above


def warp_count(
    alpha, thr, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts, memo=None, spans=True
):
    """Count of ``warped alpha > thr`` over the output window ``[r0, r1) x [c0, c1)``.

    Exact mode's probe of the single channel ``alpha`` (H, W), C-contiguous.
    ``memo`` is a dict the caller keeps for this ``alpha`` and ``thr``, or None.

    The plain count (no ``memo``, or ``spans`` False): ``alpha`` warped with
    the general loop's one-channel arithmetic, then counted: the count of the
    final image.  The warp is made by the kernel the image's own warp
    compiles (see :func:`pixscale._warp.resampler`): ``warp_alpha`` for uint8
    (whose RGBA warps have kernels of their own); for the other dtypes
    ``warp_window4`` where ``memo["rgba"]`` holds the RGBA image whose alpha
    channel ``alpha`` is, as flat rows (H, 4W) (:func:`pixscale._plan.rgba_rows`:
    the image is warped straight and its alpha channel counted; each channel
    is interpolated on its own, so those values are the one-channel warp's),
    else ``warp_window``.

    The span count (``memo`` holding ``"box"``, the source box outside which
    ``alpha`` is at most the threshold, and ``spans``):
    :func:`~pixscale.kernels.probe.count_spans`, which interpolates only the
    pixels that can land on either side of the threshold, with the same
    arithmetic, so the count is the same; its row table
    (:func:`~pixscale.kernels.probe.probe_rows`) is built on the first call
    and kept in ``memo``.
    """
    if memo is None or not spans:
        rgba = None if memo is None else memo.get("rgba")
        if rgba is not None and alpha.dtype != np.uint8:
            out = np.empty((r1 - r0, 4 * (c1 - c0)), alpha.dtype)
            warp_window4(rgba, 4, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, False, rounding, consts, out)
            # thr in the alpha's dtype, compared as numba's count_above compares (NumPy would round a
            # Python float to float32 for a float32 array)
            return int(np.count_nonzero(out[:, 3::4] > np.float64(thr)))
        out = np.empty((r1 - r0, c1 - c0), alpha.dtype)
        if alpha.dtype == np.uint8:  # whose RGBA warps have kernels of their own, not the general loop
            warp_alpha(alpha, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, rounding, consts, out)
        else:  # the general loop, which the warp of the image compiles too
            warp_window(alpha, 1, scale, src_cx, src_cy, dst_cx, dst_cy, r0, c0, False, rounding, consts, out)
        return count_above(out, thr)
    rows = memo.get("rows")
    if rows is None:
        rows = memo["rows"] = np.empty((alpha.shape[0], 6), np.int64)
        lo, hi = sure_levels(alpha.dtype, thr)
        h, w = alpha.shape
        x0, y0, x1, y1 = memo["box"] if lo != -np.inf else (0, 0, w, h)  # a box of values <= thr only
        probe_rows(alpha, lo, hi, max(x0, 0), max(y0, 0), min(x1, w), min(y1, h), rows)
    return count_spans(alpha, thr, rows, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1, rounding, consts)


# --- Exact mode's probe, interpolating only where the count can go either way -----
#
# The bilinear weights of an output pixel are a convex combination (they sum
# to 1 within a few ulps) unless one of its taps lies outside the source.  So
# a pixel whose four taps all lie above ``hi`` is counted whatever its exact
# value, and one whose taps all lie at or below ``lo`` is not (see
# :func:`sure_levels`).  Per source row a table holds the columns between
# which the row has pixels above ``lo`` (its hull) and its longest run above
# ``hi``; per output row, the columns whose taps fall outside both source
# rows' hulls are skipped, those inside both rows' runs (with weights summing
# to 1) counted in one step, and only the rest (the object's edge)
# interpolated, with the warp's arithmetic.


def sure_levels(dtype, thr):
    """``(lo, hi)``: a bilinear value of taps all ``<= lo`` is stored ``<= thr``, of taps all ``> hi`` ``> thr``.

    Integer alpha is rounded, so ``lo = hi = thr``.  Float alpha is stored as
    interpolated, and the weights sum to 1 only within a few ulps (and to
    ``1 - 1e-6`` at least where :func:`count_spans` counts without
    interpolating): the levels keep a relative margin of ``1e-5`` and ``1e-4``.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        return thr, thr
    t = float(thr)
    low = dtype.type(t * (1 - 1e-5))
    lo = low if (t > 0 and low < thr) or t == 0 else dtype.type(-np.inf)
    return lo, dtype.type(t * (1 + 1e-4) + 1e-30)
