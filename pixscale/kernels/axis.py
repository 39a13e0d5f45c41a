"""Numba kernels: the bilinear taps along one axis, shared by the warp and exact mode's probe.

Both :func:`pixscale.kernels.bilinear.warp_window` and
:func:`pixscale.kernels.probe.count_spans` map output pixels to source taps
here, so the probe's counts come from the very taps of the warp.  The NumPy
specification is :func:`pixscale.reference.axis_taps`.
"""

import numpy as np

from . import jit_strict


@jit_strict
def axis_taps(start, n_src, scale, src_c, dst_c, i0, i1, w0, w1):
    """Bilinear taps along one axis for the output pixels ``start, start + 1, ...``.

    Output pixel ``k`` has its centre at ``k + 0.5``; it maps back to the
    continuous source coordinate ``(k + 0.5 - dst_c) / scale + src_c`` whose
    neighbouring source centres are pixels ``floor(u)`` and ``floor(u) + 1``
    with ``u`` that coordinate less 0.5.  Fills ``i0, i1`` (int64) and
    ``w0, w1`` (weights) for ``len(i0)`` pixels; taps outside ``[0, n_src)``
    get weight 0 and a clipped index.  Returns the half-open range
    ``(lo, hi)`` of pixels with any non-zero weight (``lo == hi`` if none).
    """
    n = i0.shape[0]
    for k in range(n):  # no branch and no running state: the loop vectorises
        u = (start + k + 0.5 - dst_c) / scale + src_c - 0.5
        f0 = np.floor(u)
        f = u - f0
        a = int(f0)
        b = a + 1
        w0[k] = 1.0 - f if 0 <= a < n_src else 0.0
        w1[k] = f if 0 <= b < n_src else 0.0
        i0[k] = min(max(a, 0), n_src - 1)
        i1[k] = min(max(b, 0), n_src - 1)
    lo = 0
    while lo < n and w0[lo] == 0 and w1[lo] == 0:
        lo += 1
    hi = n
    while hi > lo and w0[hi - 1] == 0 and w1[hi - 1] == 0:
        hi -= 1
    return (lo, hi) if lo < hi else (0, 0)
