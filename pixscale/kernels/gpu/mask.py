# mypy: check-untyped-defs=False
# (kernel bodies are device code: numba.cuda's intrinsics, e.g. cuda.grid, are not typed for Python)
"""The CUDA kernels of an external object mask (``mask=``): its range, and the image with it as alpha.

:func:`pixscale._validate.with_mask` is the specification: a mask's values
are checked (integers 0-255, or only 0 and 1; floats in [0, 1]) from its
range, then multiplied by the image's alpha scale and, for integer images,
rounded half up.  ``mask_range`` measures the range of each view's mask (a
block reduction, as ``measure``); ``attach_alpha`` writes the image's
channels and the scaled mask as one more channel, with the float operations
of the CPU (float32 for a float32 mask, else float64; no fused multiply-add).
"""

import math

from numba import cuda, float64

from .cuda_kernels import TPB
from .device import dadd, dmul, f32, f64, fadd, fmul


@cuda.jit
def mask_range_init(out):
    """``out[n] = inf, -inf, 0``: no value seen (low, high, non-finite flag)."""
    n = cuda.grid(1)
    if n < out.shape[0]:
        out[n, 0] = math.inf
        out[n, 1] = -math.inf
        out[n, 2] = 0.0


@cuda.jit
def mask_range(mask, base, out):
    """Lowest and highest finite value of ``mask[n]`` (n = ``base + blockIdx.y``), and 1 if any is not finite.

    The blocks along x take the view's rows in turn, the threads the columns;
    a shared-memory reduction per block, then three atomics into ``out[n]``.
    """
    n = base + cuda.blockIdx.y
    h = mask.shape[1]
    w = mask.shape[2]
    tid = cuda.threadIdx.x
    lo = math.inf
    hi = -math.inf
    bad = 0.0
    for y in range(cuda.blockIdx.x, h, cuda.gridDim.x):
        for x in range(tid, w, TPB):
            v = f64(mask[n, y, x])
            if math.isfinite(v):
                lo = min(lo, v)
                hi = max(hi, v)
            else:
                bad = 1.0
    sh = cuda.shared.array((3, TPB), float64)
    sh[0, tid] = lo
    sh[1, tid] = hi
    sh[2, tid] = bad
    cuda.syncthreads()
    s = TPB // 2
    while s > 0:
        if tid < s:
            sh[0, tid] = min(sh[0, tid], sh[0, tid + s])
            sh[1, tid] = max(sh[1, tid], sh[1, tid + s])
            sh[2, tid] = max(sh[2, tid], sh[2, tid + s])
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        cuda.atomic.min(out, (n, 0), sh[0, 0])
        cuda.atomic.max(out, (n, 1), sh[1, 0])
        cuda.atomic.max(out, (n, 2), sh[2, 0])


@cuda.jit
def attach_alpha(src, mask, factor, base, single, rounding, out):
    """``out[n] = src[n]`` with ``mask[n] * factor[n]`` as its last channel: one thread a pixel.

    ``single``: a float32 mask, multiplied in float32 (NumPy's ``mask * top``
    of a float32 array); else float64.  ``rounding``: an integer image, the
    alpha rounded half up (``floor(a + 0.5)``) before it is stored.
    """
    j, i, z = cuda.grid(3)
    n = base + z
    if n >= out.shape[0] or i >= out.shape[1] or j >= out.shape[2]:
        return
    nc = src.shape[3]
    for k in range(nc):
        out[n, i, j, k] = src[n, i, j, k]
    if single:
        a = fmul(f32(mask[n, i, j]), f32(factor[n]))
        if rounding:
            out[n, i, j, nc] = math.floor(fadd(a, f32(0.5)))
        else:
            out[n, i, j, nc] = a
    else:
        d = dmul(f64(mask[n, i, j]), factor[n])
        if rounding:
            out[n, i, j, nc] = math.floor(dadd(d, 0.5))
        else:
            out[n, i, j, nc] = d
