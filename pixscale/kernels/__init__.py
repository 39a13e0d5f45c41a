"""Numba settings for every pixscale kernel, decided once here.

* ``nogil=True``: kernels release the GIL so callers may run them from threads.
* On-disk cache: compiled machine code is kept in a per-user folder, never in
  the installed package, under a key that changes with every file in
  :data:`KERNEL_SOURCES` and with pixscale's and numba's versions (see
  :mod:`pixscale._cache`).  Serial kernels only: no kernel is ``parallel=True``.
* ``fastmath``: a small flag set (no signed zeros, reciprocals, fast libm) that
  never assumes away NaN or infinity (no ``nnan``/``ninf``) and never reorders or
  fuses arithmetic (no ``reassoc``/``contract``): every code path that computes an
  alpha value computes it bit-identically, which exact mode relies on.

Importing this module compiles nothing, changes no global numba setting and
does not even import numba: ``import pixscale`` stays cheap, and numba is
loaded by the first call that needs a kernel (see :func:`kernels`).
:func:`precompile` compiles what a dataset run needs up front.
"""

FASTMATH = {"nsz", "arcp", "afn"}

#: Every module whose text ends up in a kernel's machine code: the kernels, the
#: code they inline and these flags.  Editing any of them invalidates the cache.
KERNEL_SOURCES = ("__init__.py", "simd.py", "taps.py", "bilinear.py", "jpeg.py")


def jit(func):
    """Compile ``func`` lazily as a serial, GIL-free, cached nopython kernel."""
    import numba

    from . import cache as _cache

    return _cache.attach(numba.njit(nogil=True, fastmath=FASTMATH)(func))


def jit_strict(func):
    """:func:`jit` without fastmath, for code whose every bit must not depend on the caller.

    The bilinear taps divide by the scale; with ``arcp`` LLVM may turn that
    into a multiply by the reciprocal in one inlined copy and not in another,
    which would break the bit-identity of probe and full warp.
    """
    import numba

    from . import cache as _cache

    return _cache.attach(numba.njit(nogil=True, fastmath=False)(func))


_KERNELS = None


def kernels():
    """The :mod:`pixscale._kernels` module, imported (with numba) on first use."""
    global _KERNELS
    if _KERNELS is None:
        from . import bilinear as _kernels

        _KERNELS = _kernels
    return _KERNELS


def precompile(dtypes, *, announce=None, filter="bilinear"):
    """Compile, or load from the on-disk cache, every kernel a dataset run needs.

    That is the measure pass, exact mode's probe and the warp for RGBA and
    gray+alpha images of each dtype.  Kernels are compiled on first use
    anyway; calling this first moves the wait (about 10 s for the first
    dtype, less for each further one) before a progress bar starts, and says so.

    Parameters
    ----------
    dtypes : iterable of dtype-like
        Image dtypes the run will see: uint8, uint16, float32 or float64.
    announce : callable, optional
        Called once with a message such as "compiling pixscale's kernels for
        uint8 images (first use only, about 10 s)…" before compiling, and only
        when the cache does not already hold the kernels for some dtype.
    filter : str, optional
        The resampling filter the run warps with (see :func:`pixscale.warp`);
        the Lanczos-4 and area kernels are only compiled for a run that uses them.

    Returns
    -------
    tuple of str
        The dtypes whose kernels were not yet cached (empty when all were).
    """
    import numpy as np

    from . import cache as _cache

    names = sorted({np.dtype(d).name for d in dtypes})
    bad = [n for n in names if n not in ("uint8", "uint16", "float32", "float64")]
    if bad:
        raise TypeError(f"pixscale images are uint8, uint16, float32 or float64; got dtypes {bad}")
    import numba

    if numba.config.DISABLE_JIT:
        return ()
    from .._filters import check_filter

    check_filter(filter)
    label = "" if filter == "bilinear" else f"-{filter}"
    cold = tuple(n for n in names if not _cache.is_warm(n + label))
    if cold and announce is not None:
        announce(
            f"compiling pixscale's kernels for {' and '.join(cold)} images "
            f"(first use only, about {(5 + 5 * len(cold)) * (1 if filter == 'bilinear' else 2)} s)…"
        )
    for name in names:
        _run_dataset_kernels(np.dtype(name), filter)
    for name in cold:
        _cache.mark_warm(name + label)
    return cold


def _run_dataset_kernels(dtype, filter="bilinear"):
    """Measure, plan (exact) and warp a small RGBA and gray+alpha image, as a dataset run does.

    With a filter other than bilinear, both sides of scale 1 are planned and
    warped, so ``"auto"`` compiles the area and the Lanczos-4 paths.
    """
    import numpy as np

    from .._measure import measure
    from .._plan import plan_group
    from .._warp import warp

    top = np.iinfo(dtype).max if dtype.kind == "u" else 1.0
    for nc in (4, 2):
        image = np.zeros((12, 12, nc), dtype)
        image[3:8, 4:9] = top
        for target in (0.3,) if filter == "bilinear" else (0.2, 0.6):
            (t,) = plan_group([image], target=target, filter=filter)
            measure(warp(image, t))
