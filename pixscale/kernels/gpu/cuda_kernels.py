# mypy: check-untyped-defs=False
# (kernel bodies are device code: numba.cuda's intrinsics, e.g. cuda.grid, are not typed for Python)
"""The CUDA kernels (``@cuda.jit``): measure, warp and count, plus the fills that start them.

Launched by :mod:`pixscale.kernels.gpu`, which holds the launch
configuration.  Each kernel takes its batch offset ``base`` (the first view,
or probe row, of this launch: the grid's second or third dimension holds at
most 65535) and run-time flags, so one compiled kernel per argument type
serves every path.  The per-pixel arithmetic is in
:mod:`pixscale.kernels.gpu.device`.
"""

from numba import cuda, int64

from .device import (
    SIMULATOR,
    clip01,
    dmul,
    f32,
    f64,
    fmul,
    hblend_premult,
    lerp,
    reciprocal,
    reciprocal64,
    rounded,
    taps,
    vblend,
    vblend_premult,
)

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

    The blocks along x share the view's pixels in a grid-stride loop; each
    thread keeps its partials, the block reduces them in shared memory and
    thread 0 adds them to ``out[n]`` with atomics (sums: add; box: min, max).
    All values are whole numbers below 2**53, so the float64 sums are exact
    in any order.
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
    p = cuda.blockIdx.x * TPB + tid
    step = cuda.gridDim.x * TPB
    while p < h * w:
        y = p // w
        x = p - y * w
        if alpha[n, y, x] > thr:
            count += 1
            sx += x
            sy += y
            x0 = min(x0, x)
            y0 = min(y0, y)
            x1 = max(x1, x + 1)
            y1 = max(y1, y + 1)
        p += step
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

    ``params[n] = scale, src_cx, src_cy, dst_cx, dst_cy``.  The pass order
    is the CPU kernel's: for ``scale < 1`` the vertical pass reads the source
    (``vblend``), else the horizontal one.  ``premult`` (four channels):
    colour weighted by alpha and divided back.  ``rounding``: integer
    output rounded half up, clipped to ``[0, maxval]``; else a float output
    clipped to [0, 1].  ``wide``: a uint16 source (see ``vblend``).
    """
    j, i, z = cuda.grid(3)
    n = base + z
    h2 = out.shape[1]
    w2 = out.shape[2]
    if n >= out.shape[0] or i >= h2 or j >= w2:
        return
    h = src.shape[1]
    w = src.shape[2]
    nc = src.shape[3]
    scale = params[n, 0]
    ya, yb, a, b = taps(i, h, scale, params[n, 2], params[n, 4])
    xa, xb, c, d = taps(j, w, scale, params[n, 1], params[n, 3])
    if (a == 0 and b == 0) or (c == 0 and d == 0):
        for k in range(nc):
            out[n, i, j, k] = 0
        return
    if premult:
        if scale < 1.0:
            p0, p1, p2, p3 = vblend_premult(
                a, b, src[n, ya, xa, 0], src[n, ya, xa, 1], src[n, ya, xa, 2], src[n, ya, xa, 3],
                src[n, yb, xa, 0], src[n, yb, xa, 1], src[n, yb, xa, 2], src[n, yb, xa, 3], wide,
            )  # fmt: skip
            q0, q1, q2, q3 = vblend_premult(
                a, b, src[n, ya, xb, 0], src[n, ya, xb, 1], src[n, ya, xb, 2], src[n, ya, xb, 3],
                src[n, yb, xb, 0], src[n, yb, xb, 1], src[n, yb, xb, 2], src[n, yb, xb, 3], wide,
            )  # fmt: skip
            v0 = lerp(c, p0, d, q0)
            v1 = lerp(c, p1, d, q1)
            v2 = lerp(c, p2, d, q2)
            v3 = lerp(c, p3, d, q3)
        else:
            p0, p1, p2, p3 = hblend_premult(
                c, d, src[n, ya, xa, 0], src[n, ya, xa, 1], src[n, ya, xa, 2], src[n, ya, xa, 3],
                src[n, ya, xb, 0], src[n, ya, xb, 1], src[n, ya, xb, 2], src[n, ya, xb, 3],
            )  # fmt: skip
            q0, q1, q2, q3 = hblend_premult(
                c, d, src[n, yb, xa, 0], src[n, yb, xa, 1], src[n, yb, xa, 2], src[n, yb, xa, 3],
                src[n, yb, xb, 0], src[n, yb, xb, 1], src[n, yb, xb, 2], src[n, yb, xb, 3],
            )  # fmt: skip
            v0 = lerp(a, p0, b, q0)
            v1 = lerp(a, p1, b, q1)
            v2 = lerp(a, p2, b, q2)
            v3 = lerp(a, p3, b, q3)
        if rounding:
            inv = reciprocal(v3)
            out[n, i, j, 0] = rounded(fmul(v0, inv), maxval)
            out[n, i, j, 1] = rounded(fmul(v1, inv), maxval)
            out[n, i, j, 2] = rounded(fmul(v2, inv), maxval)
            out[n, i, j, 3] = rounded(v3, maxval)
        else:
            inv64 = reciprocal64(v3)
            out[n, i, j, 0] = clip01(f32(dmul(f64(v0), inv64)))
            out[n, i, j, 1] = clip01(f32(dmul(f64(v1), inv64)))
            out[n, i, j, 2] = clip01(f32(dmul(f64(v2), inv64)))
            out[n, i, j, 3] = clip01(v3)
        return
    for k in range(nc):
        if scale < 1.0:
            v = lerp(
                c,
                vblend(a, src[n, ya, xa, k], b, src[n, yb, xa, k], wide),
                d,
                vblend(a, src[n, ya, xb, k], b, src[n, yb, xb, k], wide),
            )
        else:
            v = lerp(
                a,
                lerp(c, f32(src[n, ya, xa, k]), d, f32(src[n, ya, xb, k])),
                b,
                lerp(c, f32(src[n, yb, xa, k]), d, f32(src[n, yb, xb, k])),
            )
        if rounding:
            out[n, i, j, k] = rounded(v, maxval)
        else:
            out[n, i, j, k] = clip01(v)


@cuda.jit
def count(alpha, thr, params, base, out_h, out_w, rounding, wide, maxval, out):
    """Probe row ``m = base + blockIdx.y``: how many output pixels of its warped alpha are ``> thr``.

    ``params[m] = view, scale, src_cx, src_cy, dst_cx, dst_cy`` and, with ten
    columns, the window ``r0, r1, c0, c1`` (else the canvas ``out_h x
    out_w``).  The value of each pixel is the warp's, stored in the alpha's
    dtype (:func:`warp` on one straight channel); blocks along x share the
    window in a grid-stride loop, reduce in shared memory and add with one
    atomic each.
    """
    m = base + cuda.blockIdx.y
    tid = cuda.threadIdx.x
    h = alpha.shape[1]
    w = alpha.shape[2]
    view = int(params[m, 0])
    scale = params[m, 1]
    r0 = 0
    c0 = 0
    ny = out_h
    nx = out_w
    if params.shape[1] >= 10:
        r0 = int(params[m, 6])
        c0 = int(params[m, 8])
        ny = max(int(params[m, 7]) - r0, 0)
        nx = max(int(params[m, 9]) - c0, 0)
    local = 0
    p = cuda.blockIdx.x * TPB + tid
    step = cuda.gridDim.x * TPB
    while p < ny * nx:
        li = p // nx
        i = r0 + li
        j = c0 + (p - li * nx)
        ya, yb, a, b = taps(i, h, scale, params[m, 3], params[m, 5])
        xa, xb, c, d = taps(j, w, scale, params[m, 2], params[m, 4])
        v = f32(0.0)
        if not ((a == 0 and b == 0) or (c == 0 and d == 0)):
            if scale < 1.0:
                v = lerp(
                    c,
                    vblend(a, alpha[view, ya, xa], b, alpha[view, yb, xa], wide),
                    d,
                    vblend(a, alpha[view, ya, xb], b, alpha[view, yb, xb], wide),
                )
            else:
                v = lerp(
                    a,
                    lerp(c, f32(alpha[view, ya, xa]), d, f32(alpha[view, ya, xb])),
                    b,
                    lerp(c, f32(alpha[view, yb, xa]), d, f32(alpha[view, yb, xb])),
                )
        if rounding:
            local += 1 if rounded(v, maxval) > thr else 0
        else:
            local += 1 if v > thr else 0
        p += step
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
