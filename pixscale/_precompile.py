"""Compiling the kernels a dataset run needs before it starts (see :func:`precompile`).

It sits on top of the image API (it measures, plans and warps small images), so
:mod:`pixscale.kernels` imports nothing from here; numba and the kernel cache are
imported when :func:`precompile` is called.
"""

import contextlib

import numpy as np

from ._filters import check_filter
from ._measure import measure
from ._plan import plan_group
from ._warp import use_span_count, warp


def precompile(dtypes, *, announce=None, filter="bilinear", channels=(4, 2)):
    """Compile, or load from the on-disk cache, every kernel a dataset run needs.

    That is the measure pass, exact mode's probe (the span count, which a
    plain ``normalize`` call compiles only after a while: see
    :func:`pixscale._warp.bilinear_count`) and the warp for images of each
    dtype and channel count (four channels have warp kernels of their own).  Kernels are compiled on first use
    anyway; calling this first moves the wait (a few seconds for the first
    dtype, by machine and filter; less for each further one) before a
    progress bar starts, and says so.

    Parameters
    ----------
    dtypes : iterable of dtype-like
        Image dtypes the run will see: uint8, uint16, float32 or float64.
    announce : callable, optional
        Called once with a message such as "compiling pixscale's kernels for
        uint8 images (first use only: …)…" (see :func:`compile_notice`) before
        compiling, and only when the cache does not already hold the kernels
        for some dtype.
    filter : str, optional
        The resampling filter the run warps with (see :func:`pixscale.warp`);
        the Lanczos-4 and area kernels are only compiled for a run that uses them.
    channels : iterable of int, optional
        The channel counts of the run's images: 4 (RGBA) and 2 (gray+alpha),
        both by default.  A dataset run compiles those of its first view, as
        it does its dtype (:func:`pixscale.pipeline.schedule.precompile_for`);
        other kinds of image compile when they are met.

    Returns
    -------
    tuple of str
        The dtypes whose kernels were not yet cached (empty when all were).
    """
    names = sorted({np.dtype(d).name for d in dtypes})
    bad = [n for n in names if n not in ("uint8", "uint16", "float32", "float64")]
    if bad:
        raise TypeError(f"pixscale images are uint8, uint16, float32 or float64; got dtypes {bad}")
    channels = tuple(channels)
    counts = sorted(set(channels), reverse=True)
    if not counts or any(c not in (4, 2) for c in counts):
        raise ValueError(f"`channels=` takes 4 (RGBA) and 2 (gray+alpha); got {channels!r}")
    import numba

    if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
        return ()
    from .kernels import cache as _cache

    check_filter(filter)
    cold = tuple(n for n in names if not all(_cache.is_warm(warm_label(n, c, filter)) for c in counts))
    if cold and announce is not None:
        announce(compile_notice(cold, [] if filter == "bilinear" else [filter]))
    use_span_count(names)
    for name in names:
        _run_dataset_kernels(np.dtype(name), filter, counts)
    for name in cold:
        for c in counts:
            _cache.mark_warm(warm_label(name, c, filter))
    return cold


def warm_label(dtype, channels, filter):
    """The kernel cache's mark that :func:`precompile` ran for images of ``dtype`` (a name) with ``channels``."""
    return f"{dtype}-{channels}ch" + ("" if filter == "bilinear" else f"-{filter}")


@contextlib.contextmanager
def first_use(label, dtypes, filters=(), *, announce=None):
    """Around work that compiles kernels as it goes: announce it (once per cache) when ``label`` is new.

    ``announce`` is called with :func:`compile_notice` of ``dtypes`` and
    ``filters`` before the block runs, unless the block already ran to its end
    for ``label`` with this kernel cache; ``pixscale bench`` uses it, whose
    timings compile what they time in their warm-up calls.
    """
    import numba

    from .kernels import cache as _cache

    names = [np.dtype(d).name for d in dtypes]
    marker = f"{label}-{'-'.join(names)}"
    cold = not numba.config.DISABLE_JIT and not _cache.is_warm(marker)  # type: ignore[attr-defined]
    if cold and announce is not None:
        announce(compile_notice(names, list(filters)))
    use_span_count(names)  # what a dataset run's probes use (see precompile)
    yield
    if cold:
        _cache.mark_warm(marker)


def compile_notice(dtypes, filters=()):
    """The message said before compiling the kernels of ``dtypes`` (names), with ``filters`` besides bilinear.

    It names what is compiled and that it happens once: the time it takes
    depends on the machine, so it promises none.
    """
    which = f" with the {' and '.join(filters)} filter{'s' if len(filters) > 1 else ''}" if filters else ""
    return (
        f"compiling pixscale's kernels for {' and '.join(dtypes)} images{which} "
        "(first use only: later runs load them from the cache)…"
    )


def _run_dataset_kernels(dtype, filter, channels):
    """Measure, plan (exact) and warp a small image of each channel count, as a dataset run does.

    Both sides of scale 1 are planned and warped: uint8 RGBA has a bilinear
    kernel for each, and ``"auto"`` compiles the area and the Lanczos-4 paths.
    """
    top = np.iinfo(dtype).max if dtype.kind == "u" else 1.0
    for nc in channels:
        image = np.zeros((12, 12, nc), dtype)
        image[3:8, 4:9] = top
        for target in (0.2, 0.6):  # both sides of scale 1: RGBA8 and the tap filters have a kernel for each
            (t,) = plan_group([image], target=target, filter=filter)
            measure(warp(image, t))
