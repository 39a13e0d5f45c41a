"""Device functions of the CUDA kernels: the float operations of the CPU warp, one output pixel at a time.

Every value here is computed by the same IEEE operations, in the same float
type and order, as :mod:`pixscale.kernels.bilinear` and
:mod:`pixscale.kernels.store` compute it (NumPy spec:
:func:`pixscale.reference.warp`).  Two things keep it so:

* Explicit conversions (:data:`f32`, :data:`f64`) wherever a type could be
  chosen implicitly.  numba types ``float32 * uint16`` as float64 (the CPU
  kernel's vertical first pass over a uint16 source computes in float64), the
  simulator runs NumPy, which types it float32: written out, both do the same.
* Products and sums through :func:`fmul`, :func:`fadd`, :func:`dmul`,
  :func:`dadd`.  On the device these are libdevice's ``__nv_fmul_rn`` and
  friends, which NVVM never contracts into a fused multiply-add (it contracts
  a plain ``a * b + c`` by default, rounding once where the CPU rounds
  twice); in the simulator they are the NumPy operations of the same type.

The taps' float64 arithmetic (a subtraction, a division and additions) has no
product to contract.
"""

import math
from typing import Any

import numpy as np
from numba import cuda
from numba.cuda.core import config

#: True when numba runs the kernels in its CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` before numba.cuda is imported).
SIMULATOR = bool(config.ENABLE_CUDASIM)

#: The smallest normal float64: a premultiplied float alpha at or below it gives colour 0 (as on the CPU).
TINY64 = float(np.finfo(np.float64).tiny)

f32: Any
f64: Any
if SIMULATOR:
    f32 = np.float32
    f64 = np.float64

    def fmul(a, b):
        """float32 product, rounded once."""
        return np.float32(a) * np.float32(b)

    def fadd(a, b):
        """float32 sum, rounded once."""
        return np.float32(a) + np.float32(b)

    def dmul(a, b):
        """float64 product, rounded once."""
        return np.float64(a) * np.float64(b)

    def dadd(a, b):
        """float64 sum, rounded once."""
        return np.float64(a) + np.float64(b)

else:  # pragma: no cover - needs a GPU
    from numba.cuda import libdevice

    f32 = cuda.float32  # type: ignore[attr-defined]
    f64 = cuda.float64  # type: ignore[attr-defined]
    fmul = libdevice.fmul_rn
    fadd = libdevice.fadd_rn
    dmul = libdevice.dmul_rn
    dadd = libdevice.dadd_rn


@cuda.jit(device=True)
def taps(k, n_src, scale, src_c, dst_c):
    """Bilinear taps ``(i0, i1, w0, w1)`` of output pixel ``k`` on one axis (``bilinear.axis_taps``).

    ``u = (k + 0.5 - dst_c) / scale + src_c - 0.5`` in float64; the weights
    ``1 - f`` and ``f`` (0 for a tap outside ``[0, n_src)``) are rounded to
    float32, the indices clipped into range.
    """
    u = (k + 0.5 - dst_c) / scale + src_c - 0.5
    f0 = math.floor(u)
    f = u - f0
    a = int(f0)
    b = a + 1
    wa = 1.0 - f if 0 <= a < n_src else 0.0
    wb = f if 0 <= b < n_src else 0.0
    return min(max(a, 0), n_src - 1), min(max(b, 0), n_src - 1), f32(wa), f32(wb)


@cuda.jit(device=True)
def lerp(w0, p, w1, q):
    """``w0 * p + w1 * q`` in float32, each product and the sum rounded."""
    return fadd(fmul(w0, p), fmul(w1, q))


@cuda.jit(device=True)
def vblend(a, s, b, t, wide):
    """The vertical first pass on two source values: float32, or float64 rounded to float32 if ``wide`` (uint16)."""
    if wide:
        return f32(dadd(dmul(f64(a), f64(s)), dmul(f64(b), f64(t))))
    return fadd(fmul(a, f32(s)), fmul(b, f32(t)))


@cuda.jit(device=True)
def vblend_premult(a, b, s0, s1, s2, s3, t0, t1, t2, t3, wide):
    """The premultiplied vertical first pass of two RGBA source pixels ``s``, ``t`` (``_blend_rows_premult``).

    ``p = a * s3``, ``q = b * t3``; colour ``p * s + q * t``, alpha ``p + q``;
    in float64 rounded once to float32 when ``wide`` (uint16), else float32.
    """
    if wide:
        p = dmul(f64(a), f64(s3))
        q = dmul(f64(b), f64(t3))
        return (
            f32(dadd(dmul(p, f64(s0)), dmul(q, f64(t0)))),
            f32(dadd(dmul(p, f64(s1)), dmul(q, f64(t1)))),
            f32(dadd(dmul(p, f64(s2)), dmul(q, f64(t2)))),
            f32(dadd(p, q)),
        )
    return hblend_premult(a, b, s0, s1, s2, s3, t0, t1, t2, t3)


@cuda.jit(device=True)
def hblend_premult(a, b, s0, s1, s2, s3, t0, t1, t2, t3):
    """The premultiplied horizontal first pass of two RGBA source pixels (``lerp4_premult``), float32."""
    p = fmul(a, f32(s3))
    q = fmul(b, f32(t3))
    return (
        fadd(fmul(p, f32(s0)), fmul(q, f32(t0))),
        fadd(fmul(p, f32(s1)), fmul(q, f32(t1))),
        fadd(fmul(p, f32(s2)), fmul(q, f32(t2))),
        fadd(p, q),
    )


@cuda.jit(device=True)
def rounded(x, maxval):
    """``x`` clipped to ``[0, maxval]`` plus a half, truncated: rounded half up (``store.rounded`` and the store)."""
    return int(min(max(x, f32(0.0)), maxval) + f32(0.5))


@cuda.jit(device=True)
def clip01(x):
    """A float output clipped to [0, 1], as :func:`pixscale.warp` clips every float output."""
    return min(max(x, f32(0.0)), f32(1.0))


@cuda.jit(device=True)
def reciprocal(wa):
    """``1 / wa`` where the stored alpha is not 0 (``wa >= 0.5``), else 0: the integer premultiplied store, float32."""
    return f32(1.0) / wa if wa >= f32(0.5) else f32(0.0)


@cuda.jit(device=True)
def reciprocal64(wa):
    """``1 / wa`` in float64 where ``wa`` exceeds float64's smallest normal, else 0: the float premultiplied store."""
    return 1.0 / f64(wa) if wa > TINY64 else 0.0
