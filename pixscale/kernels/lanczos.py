"""The Lanczos-4 weights, written once in plain Python and compiled for both targets.

:func:`lanczos8` uses only :mod:`math` and indexing, which Numba compiles
for the CPU (:func:`pixscale.kernels.taps._lanczos8`, ``jit_strict``) and
for CUDA (:func:`pixscale.kernels.gpu.taps.lanczos8`, a device function):
one home for the arithmetic, so the two kernels compute the same float64
weights by the same operations (the ``sin`` itself is the target's: the C
library's on the CPU, libdevice's on the GPU).  Importing this module imports
no numba.
"""

import math

#: Taps per axis of the Lanczos-4 filter.
LANCZOS_TAPS = 8


def lanczos8(f, coef):
    """The 8 Lanczos-4 weights of taps ``floor(u) - 3 ... floor(u) + 4`` for the phase ``f = u - floor(u)``.

    Tap ``t`` is at distance ``d = f + 3 - t``; its weight is ``sinc(d) *
    sinc(d / 4) = 4 sin(pi d) sin(pi d / 4) / (pi d)^2`` (exactly 1 or 0 at
    whole ``d``), and ``sin(pi d) = (-1)^(3 - t) sin(pi f)``, so one sine
    serves all eight numerators.  The weights are normalised to sum 1 and
    written into ``coef``.
    """
    sf = math.sin(math.pi * f)
    total = 0.0
    for t in range(LANCZOS_TAPS):
        d = f + 3.0 - t
        r = math.floor(d + 0.5)  # the nearest whole number (only read within 1e-9 of one: no tie)
        if abs(d - r) < 1e-9:
            c = 1.0 if r == 0 else 0.0
        else:
            x = math.pi * d
            c = 4.0 * (sf if (3 - t) % 2 == 0 else -sf) * math.sin(0.25 * x) / (x * x)
        coef[t] = c
        total += c
    for t in range(LANCZOS_TAPS):
        coef[t] = coef[t] / total
