# mypy: check-untyped-defs=False
# (kernel bodies are device code: numba.cuda's intrinsics, e.g. cuda.grid, are not typed for Python)
"""The CUDA kernels (``@cuda.jit``): measure, warp and count, plus the fills that start them.

Launched by :mod:`pixscale.kernels.gpu`, which holds the launch
configuration.  Each kernel takes its batch offset ``base`` (the first view,
or probe row, of this launch: the grid's second or third dimension holds at
most 65535) and run-time flags, so one compiled kernel per argument type
serves every path.  The per-pixel arithmetic is in
:mod:`pixscale.kernels.gpu.pixel` (bilinear) and
:mod:`pixscale.kernels.gpu.taps` (Lanczos-4, area).
"""

import math

from numba import cuda, float64, int64

from ..lanczos import LANCZOS_TAPS
from .device import SIMULATOR, clip01, dadd, dmul, f32, f64, rounded, taps
from .pixel import bilinear_alpha, bilinear_pixel, store_pixel, store_premult
from .taps import BILINEAR, axis, resolve, taps_alpha, taps_pixel

#: Threads per block of the reductions (measure, count): a power of two.
TPB = 32 if SIMULATOR else 256


@cuda.jit
def measure_init(out, w, h):
    """``out[n] = 0, 0, 0, W, H, 0, 0``: the empty measurement, which the reduction's atomics narrow."""
    n = cuda.grid(1)
    if n < out.shape[0]:
        out[n, 0] = 0.0
        out[n, 1] = 0.0
        out[n, 2] = 0.0
        out[n, 3] = w
        out[n, 4] = h
        out[n, 5] = 0.0
        out[n, 6] = 0.0


@cuda.jit
def fill_zero(out):
    """``out[:] = 0`` for a 1-D array."""
    k = cuda.grid(1)
    if k < out.shape[0]:
        out[k] = 0


@cuda.jit
def measure(alpha, thr, base, out):
    """Count, coordinate sums and box of ``alpha[n] > thr`` for view ``n = base + blockIdx.y``.

    The blocks along x take the view's rows in turn (``blockIdx.x``, then
    every ``gridDim.x``-th), the threads of a block the columns of a row in
    turn; each thread keeps its partials, the block reduces them in shared
    memory and thread 0 adds them to ``out[n]`` with atomics (sums: add; box:
    min, max).  All values are whole numbers below 2**53, so the float64 sums
    are exact in any order.
    """
    n = base + cuda.blockIdx.y
    h = alpha.shape[1]
    w = alpha.shape[2]
    tid = cuda.threadIdx.x
    count = 0
    sx = 0
    sy = 0
    x0 = w
    y0 = h
    x1 = 0
    y1 = 0
    for y in range(cuda.blockIdx.x, h, cuda.gridDim.x):
        c = 0
        for x in range(tid, w, TPB):
            if alpha[n, y, x] > thr:
                c += 1
                sx += x
                x0 = min(x0, x)
                x1 = max(x1, x + 1)
        if c > 0:
            count += c
            sy += y * c
            y0 = min(y0, y)
            y1 = max(y1, y + 1)
    sh = cuda.shared.array((7, TPB), int64)
    sh[0, tid] = count
    sh[1, tid] = sx
    sh[2, tid] = sy
    sh[3, tid] = x0
    sh[4, tid] = y0
    sh[5, tid] = x1
    sh[6, tid] = y1
    cuda.syncthreads()
    s = TPB // 2
    while s > 0:
        if tid < s:
            sh[0, tid] += sh[0, tid + s]
            sh[1, tid] += sh[1, tid + s]
            sh[2, tid] += sh[2, tid + s]
            sh[3, tid] = min(sh[3, tid], sh[3, tid + s])
            sh[4, tid] = min(sh[4, tid], sh[4, tid + s])
            sh[5, tid] = max(sh[5, tid], sh[5, tid + s])
            sh[6, tid] = max(sh[6, tid], sh[6, tid + s])
        cuda.syncthreads()
        s //= 2
    if tid == 0 and sh[0, 0] > 0:
        cuda.atomic.add(out, (n, 0), f64(sh[0, 0]))
        cuda.atomic.add(out, (n, 1), f64(sh[1, 0]))
        cuda.atomic.add(out, (n, 2), f64(sh[2, 0]))
        cuda.atomic.min(out, (n, 3), f64(sh[3, 0]))
        cuda.atomic.min(out, (n, 4), f64(sh[4, 0]))
        cuda.atomic.max(out, (n, 5), f64(sh[5, 0]))
        cuda.atomic.max(out, (n, 6), f64(sh[6, 0]))


@cuda.jit
def warp(src, out, params, base, premult, rounding, wide, maxval):
    """Bilinear resample-and-pad of view ``n = base + z``: one thread per output pixel ``(i, j)``, all channels.

    ``params[n] = scale, src_cx, src_cy, dst_cx, dst_cy``; ``premult``
    (four channels): colour weighted by alpha and divided back;
    ``rounding``: integer output rounded half up and clipped to ``[0,
    maxval]``, else a float output clipped to [0, 1]; ``wide``: a uint16
    source (see :func:`~pixscale.kernels.gpu.device.vblend`).
    """
    j, i, z = cuda.grid(3)
    n = base + z
    if n >= out.shape[0] or i >= out.shape[1] or j >= out.shape[2]:
        return
    p = params[n]
    bilinear_pixel(src, out, n, i, j, p[0], p[1], p[2], p[3], p[4], premult, rounding, wide, maxval)


@cuda.jit
def warp_taps(src, out, params, base, code, premult, rounding, wide, maxval):
    """:func:`warp` with the filter ``code`` (Lanczos-4, area or auto), resolved per view by its scale.

    A view whose filter resolves to bilinear (area at scale 1 and above,
    auto at scale 1) takes :func:`warp`'s arithmetic.
    """
    j, i, z = cuda.grid(3)
    n = base + z
    if n >= out.shape[0] or i >= out.shape[1] or j >= out.shape[2]:
        return
    p = params[n]
    f = resolve(code, p[0])
    if f == BILINEAR:
        bilinear_pixel(src, out, n, i, j, p[0], p[1], p[2], p[3], p[4], premult, rounding, wide, maxval)
        return
    live, v0, v1, v2, v3 = taps_pixel(f, src, n, i, j, p[0], p[1], p[2], p[3], p[4], premult)
    nc = src.shape[3]
    if not live:
        for k in range(nc):
            out[n, i, j, k] = 0
    elif premult:
        store_premult(out, n, i, j, v0, v1, v2, v3, rounding, maxval)
    else:
        store_pixel(out, n, i, j, 0, v0, rounding, maxval)
        store_pixel(out, n, i, j, 1, v1, rounding, maxval)
        store_pixel(out, n, i, j, 2, v2, rounding, maxval)
        if nc == 4:
            store_pixel(out, n, i, j, 3, v3, rounding, maxval)


@cuda.jit(device=True)
def block_add(local, out, m):
    """Add the block's ``local`` counts (one per thread) to ``out[m]``: a shared-memory tree, then one atomic."""
    tid = cuda.threadIdx.x
    sh = cuda.shared.array(TPB, int64)
    sh[tid] = local
    cuda.syncthreads()
    s = TPB // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid == 0 and sh[0] > 0:
        cuda.atomic.add(out, m, sh[0])


@cuda.jit(device=True)
def window(params, m, out_h, out_w):
    """Row ``m``'s output window ``(r0, c0, ny, nx)``: its own with ten columns, else the canvas."""
    if params.shape[1] >= 10:
        r0 = int(params[m, 6])
        c0 = int(params[m, 8])
        return r0, c0, max(int(params[m, 7]) - r0, 0), max(int(params[m, 9]) - c0, 0)
    return 0, 0, out_h, out_w


@cuda.jit(device=True)
def above(v, thr, rounding, maxval):
    """1 if the value ``v``, stored in the alpha's dtype (rounded, for integers), exceeds ``thr``, else 0."""
    if rounding:
        return 1 if rounded(v, maxval) > thr else 0
    return 1 if v > thr else 0


@cuda.jit(device=True)
def share(n, tid):
    """How many of ``n`` columns thread ``tid`` of a block takes (``range(tid, n, TPB)``)."""
    return (n - tid + TPB - 1) // TPB if tid < n else 0


@cuda.jit
def count(alpha, thr, params, base, out_h, out_w, rounding, wide, maxval, out):
    """Probe row ``m = base + blockIdx.y``: how many output pixels of its warped alpha are ``> thr``.

    ``params[m] = view, scale, src_cx, src_cy, dst_cx, dst_cy`` and, with ten
    columns, the window ``r0, r1, c0, c1`` (else the canvas ``out_h x
    out_w``).  The value of each pixel is the bilinear warp's, stored in the
    alpha's dtype (rounded, for integers; floats are compared unclipped, as
    the CPU probe compares them).  The blocks along x take the window's rows
    in turn (each row's taps computed once), the threads its columns; each
    block adds its count with one atomic.
    """
    m = base + cuda.blockIdx.y
    tid = cuda.threadIdx.x
    p = params[m]
    view = int(p[0])
    r0, c0, ny, nx = window(params, m, out_h, out_w)
    zero = above(f32(0.0), thr, rounding, maxval)  # a pixel without taps
    local = 0
    for li in range(cuda.blockIdx.x, ny, cuda.gridDim.x):
        ya, yb, a, b = taps(r0 + li, alpha.shape[1], p[1], p[3], p[5])
        if a == 0 and b == 0:
            local += zero * share(nx, tid)
            continue
        for lj in range(tid, nx, TPB):
            v = bilinear_alpha(alpha, view, ya, yb, a, b, c0 + lj, p[1], p[2], p[4], wide)
            local += above(v, thr, rounding, maxval)
    block_add(local, out, m)


@cuda.jit
def count_taps(alpha, thr, params, base, out_h, out_w, code, rounding, wide, maxval, out):
    """:func:`count` with the filter ``code``, resolved per row by its scale.

    The tap filters' warp clips float values to [0, 1] before they are
    compared (as the CPU's ``warp_taps`` stores them); a row whose filter
    resolves to bilinear counts as :func:`count` does.
    """
    m = base + cuda.blockIdx.y
    tid = cuda.threadIdx.x
    p = params[m]
    view = int(p[0])
    f = resolve(code, p[1])
    r0, c0, ny, nx = window(params, m, out_h, out_w)
    zero = above(f32(0.0), thr, rounding, maxval)
    cy = cuda.local.array(LANCZOS_TAPS, float64)
    local = 0
    for li in range(cuda.blockIdx.x, ny, cuda.gridDim.x):
        i = r0 + li
        if f == BILINEAR:
            ya, yb, a, b = taps(i, alpha.shape[1], p[1], p[3], p[5])
            if a == 0 and b == 0:
                local += zero * share(nx, tid)
                continue
            for lj in range(tid, nx, TPB):
                v = bilinear_alpha(alpha, view, ya, yb, a, b, c0 + lj, p[1], p[2], p[4], wide)
                local += above(v, thr, rounding, maxval)
            continue
        ylo, yn, ybase, ea, eb = axis(f, i, alpha.shape[1], p[1], p[3], p[5], cy)
        if yn == 0:
            local += zero * share(nx, tid)
            continue
        for lj in range(tid, nx, TPB):
            v = taps_alpha(f, alpha, view, ylo, yn, ybase, ea, eb, cy, c0 + lj, p[1], p[2], p[4])
            local += above(v if rounding else clip01(v), thr, rounding, maxval)
    block_add(local, out, m)


@cuda.jit
def composite(img, bg, top, rounding, base):
    """Colour of view ``n = base + z`` onto the colour ``bg``, in place: ``colour * a + bg * (1 - a)``.

    ``a`` is the alpha (the last channel, kept) over ``top``, in float64, as
    :func:`pixscale._warp.composite` computes it (products and the sum
    rounded each, no fused multiply-add); ``rounding``: an integer image,
    rounded half up and clipped to ``[0, top]``.  One thread a pixel.
    """
    j, i, z = cuda.grid(3)
    n = base + z
    if n >= img.shape[0] or i >= img.shape[1] or j >= img.shape[2]:
        return
    nc = img.shape[3]
    a = f64(img[n, i, j, nc - 1]) / top
    rest = 1.0 - a
    for k in range(nc - 1):
        c = dadd(dmul(f64(img[n, i, j, k]), a), dmul(bg[k], rest))
        if rounding:
            img[n, i, j, k] = min(max(math.floor(dadd(c, 0.5)), 0.0), top)
        else:
            img[n, i, j, k] = c
