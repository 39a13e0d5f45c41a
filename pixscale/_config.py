"""Numba settings for every pixscale kernel, decided once here.

* ``nogil=True``: kernels release the GIL so callers may run them from threads.
* ``cache=True``: compiled machine code is kept on disk; serial kernels only.
* ``fastmath``: a small flag set (no signed zeros, reciprocals, fast libm) that
  never assumes away NaN or infinity (no ``nnan``/``ninf``) and never reorders or
  fuses arithmetic (no ``reassoc``/``contract``): every code path that computes an
  alpha value computes it bit-identically, which exact mode relies on.

Importing this module compiles nothing, changes no global numba setting and
does not even import numba: ``import pixscale`` stays cheap, and numba is
loaded by the first call that needs a kernel (see :func:`kernels`).
"""

FASTMATH = {"nsz", "arcp", "afn"}


def jit(func):
    """Compile ``func`` lazily as a serial, GIL-free, cached nopython kernel."""
    import numba

    return numba.njit(nogil=True, cache=True, fastmath=FASTMATH)(func)


def jit_strict(func):
    """:func:`jit` without fastmath, for code whose every bit must not depend on the caller.

    The bilinear taps divide by the scale; with ``arcp`` LLVM may turn that
    into a multiply by the reciprocal in one inlined copy and not in another,
    which would break the bit-identity of probe and full warp.
    """
    import numba

    return numba.njit(nogil=True, cache=True)(func)


_KERNELS = None


def kernels():
    """The :mod:`pixscale._kernels` module, imported (with numba) on first use."""
    global _KERNELS
    if _KERNELS is None:
        from . import _kernels

        _KERNELS = _kernels
    return _KERNELS
