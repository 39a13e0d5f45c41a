"""Numba kernels: the fused measure pass and the bilinear resample-and-pad.

Kernels are private and dumb: they receive validated arrays of a known dtype,
the precomputed per-row / per-column taps, and a preallocated ``out``.  They
never convert, allocate what the caller can pass, or raise user-facing errors.
The specification of each kernel is its NumPy twin in :mod:`pixscale.reference`.
"""

from ._config import jit


@jit
def measure_alpha(alpha, thr, out):
    """Count, coordinate sums and bounding box of ``alpha > thr`` in one pass.

    ``out`` (int64, 7) receives ``count, sum_x, sum_y, x0, y0, x1, y1``; the
    box is half-open and ``x0 = W, y0 = H, x1 = y1 = 0`` when nothing passes.
    """
    h, w = alpha.shape
    count = 0
    sum_x = 0
    sum_y = 0
    x0 = w
    x1 = 0
    y0 = h
    y1 = 0
    for i in range(h):
        row = alpha[i]
        c = 0
        s = 0
        for j in range(w):  # branch-free so LLVM can vectorise it
            m = 1 if row[j] > thr else 0
            c += m
            s += j * m
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
        while j < x0 and not row[j] > thr:
            j += 1
        x0 = min(x0, j)
        j = w - 1
        while j >= x1 and not row[j] > thr:
            j -= 1
        x1 = max(x1, j + 1)
    out[0] = count
    out[1] = sum_x
    out[2] = sum_y
    out[3] = x0
    out[4] = y0
    out[5] = x1
    out[6] = y1


@jit
def _resample_row(src, y, xs0, xs1, wx0, wx1, j_lo, j_hi, alpha_ch, buf):
    """Horizontal pass of source row ``y`` into ``buf`` (premultiplied if ``alpha_ch >= 0``)."""
    nc = src.shape[2]
    row = src[y]
    if alpha_ch < 0:
        for j in range(j_lo, j_hi):
            a = wx0[j]
            b = wx1[j]
            p = row[xs0[j]]
            q = row[xs1[j]]
            for c in range(nc):
                buf[j, c] = a * p[c] + b * q[c]
    else:
        for j in range(j_lo, j_hi):
            p = row[xs0[j]]
            q = row[xs1[j]]
            a = wx0[j] * p[alpha_ch]
            b = wx1[j] * q[alpha_ch]
            for c in range(nc):
                if c == alpha_ch:
                    buf[j, c] = a + b
                else:
                    buf[j, c] = a * p[c] + b * q[c]


@jit
def warp_bilinear(src, ys0, ys1, wy0, wy1, xs0, xs1, wx0, wx1, j_lo, j_hi,
                  alpha_ch, rounding, maxval, out, buf_a, buf_b):
    """Bilinear resample-and-pad of ``src`` (H, W, C) into ``out`` (Ho, Wo, C).

    Output row ``i`` blends source rows ``ys0[i]`` and ``ys1[i]`` with weights
    ``wy0[i]``, ``wy1[i]``; output column ``j`` blends columns ``xs0[j]``,
    ``xs1[j]`` with ``wx0[j]``, ``wx1[j]``.  Taps that fall outside the source
    carry weight 0 (and an in-range index), so the loops need no bounds tests.
    Columns outside ``[j_lo, j_hi)`` and rows whose weights are both 0 are
    transparent fills.  ``alpha_ch >= 0`` interpolates colour premultiplied by
    that channel and divides back (colour is 0 where the stored alpha is 0);
    ``-1`` interpolates channels independently.
    ``rounding`` rounds half up and clips to ``[0, maxval]`` (integer outputs).
    ``buf_a``, ``buf_b`` (Wo, C) are scratch rows of the working float type.
    """
    ho, wo, nc = out.shape
    tag_a = -1
    tag_b = -1
    for i in range(ho):
        a = wy0[i]
        b = wy1[i]
        orow = out[i]
        if a == 0 and b == 0:
            for j in range(wo):
                for c in range(nc):
                    orow[j, c] = 0
            continue
        y0 = ys0[i]
        y1 = ys1[i]
        # Two-row cache: each source row is resampled horizontally once.
        if tag_a != y0:
            if tag_b == y0:
                buf_a, buf_b = buf_b, buf_a
                tag_a, tag_b = tag_b, tag_a
            else:
                _resample_row(src, y0, xs0, xs1, wx0, wx1, j_lo, j_hi, alpha_ch, buf_a)
                tag_a = y0
        if tag_b != y1:
            _resample_row(src, y1, xs0, xs1, wx0, wx1, j_lo, j_hi, alpha_ch, buf_b)
            tag_b = y1
        for j in range(j_lo):
            for c in range(nc):
                orow[j, c] = 0
        for j in range(j_hi, wo):
            for c in range(nc):
                orow[j, c] = 0
        for j in range(j_lo, j_hi):
            inv = 1.0
            if alpha_ch >= 0:
                wa = a * buf_a[j, alpha_ch] + b * buf_b[j, alpha_ch]
                # Colour is zero wherever the *stored* alpha is zero.
                visible = wa >= 0.5 if rounding else wa > 0
                inv = 1.0 / wa if visible else 0.0
            for c in range(nc):
                v = a * buf_a[j, c] + b * buf_b[j, c]
                if alpha_ch >= 0 and c != alpha_ch:
                    v = v * inv
                if rounding:
                    # Clip, then round half up: the store truncates a non-negative value.
                    v = min(max(v, 0.0), maxval) + 0.5
                orow[j, c] = v
