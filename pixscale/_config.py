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


_KERNELS = None


def kernels():
    """The :mod:`pixscale._kernels` module, imported (with numba) on first use."""
    global _KERNELS
    if _KERNELS is None:
        from . import _kernels

        _KERNELS = _kernels
    return _KERNELS
