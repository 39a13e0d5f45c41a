"""Numba settings for every pixscale kernel, decided once here.

* ``nogil=True``: kernels release the GIL so callers may run them from threads.
* On-disk cache: compiled machine code is kept in a per-user folder, never in
  the installed package, under a key that changes with every ``.py`` file of
  this folder and with pixscale's and numba's versions (see
  :mod:`pixscale.kernels.cache`).  So every line a kernel can inline lives in
  this folder, which imports nothing else from pixscale.  Serial kernels only:
  no kernel is ``parallel=True``.
* ``fastmath``: a small flag set (no signed zeros, reciprocals, fast libm) that
  never assumes away NaN or infinity (no ``nnan``/``ninf``) and never reorders or
  fuses arithmetic (no ``reassoc``/``contract``): every code path that computes an
  alpha value computes it bit-identically, which exact mode relies on.
* Cold start: each kernel Python calls compiles once per dtype, with its
  helpers; no kernel calls another that Python also calls (it would compile
  it again inside itself), helpers have no Python entry point
  (:func:`jit_helper`) and only the measure kernels have a cfunc wrapper.  A constant
  argument passed between kernels is written as a run-time value
  (``np.bool_(False)``): numba would type a literal ``False`` on its own and
  compile the callee once more for it.

Importing this module compiles nothing, changes no global numba setting and
does not even import numba: ``import pixscale`` stays cheap, and numba is
loaded by the first call that needs a kernel (see :func:`kernels`).
:func:`pixscale._precompile.precompile` compiles what a dataset run needs up front.
"""

FASTMATH = {"nsz", "arcp", "afn"}

#: Options of every kernel.  No cfunc wrapper (unless asked, see :func:`jit`):
#: pixscale passes no kernel as a first-class function, and numba would
#: otherwise make and compile one for every signature of every kernel and
#: helper (a tenth of a cold start).
_COMMON = {"nogil": True, "no_cfunc_wrapper": True}


def _njit(func, **options):
    import numba

    from . import cache as _cache

    disp = numba.njit(**{**_COMMON, **options})(func)
    if options.get("no_cpython_wrapper") and not numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
        try:
            from .linking import link_only
        except (ImportError, AttributeError):  # pragma: no cover - a numba whose internals moved: numba's own way
            return _cache.attach(disp)
        return _cache.attach(link_only(disp), keep=False)
    return _cache.attach(disp)


def jit(func=None, *, cfunc_wrapper=False):
    """Compile ``func`` lazily as a serial, GIL-free, cached nopython kernel.

    ``@jit(cfunc_wrapper=True)`` keeps numba's cfunc wrapper: without it LLVM
    compiled the measure kernels differently, and ``measure_words`` ran 13%
    slower (0.039 vs 0.045 ms at 512², alternating processes).
    """
    if func is None:
        return lambda f: jit(f, cfunc_wrapper=cfunc_wrapper)
    if cfunc_wrapper:
        return _njit(func, fastmath=FASTMATH, no_cfunc_wrapper=False)
    return _njit(func, fastmath=FASTMATH)


def jit_helper(func):
    """:func:`jit` for a helper that only other kernels call: no Python entry point.

    numba compiles a callee on its own before linking its IR into the caller;
    without ``no_cpython_wrapper`` it also makes and compiles the wrapper that
    a call from Python would need, for every signature.  A helper is
    compiled for linking only (:mod:`pixscale.kernels.linking`: no module
    optimisation and no machine code of its own) and keeps nothing in the
    kernel cache of its own (its callers' cached code holds it).  Calling a
    helper from Python is therefore an error; tests call kernels made with
    :func:`jit`.
    """
    return _njit(func, fastmath=FASTMATH, no_cpython_wrapper=True)


def jit_inline(func):
    """:func:`jit` for a kernel's part that numba inlines into its one caller (``inline="always"``).

    numba compiles a plain ``@jit`` callee on its own, to machine code that
    only a call from Python would use, and then links its IR into the caller
    and optimises it again there.  An inlined one is typed inside its caller
    and compiled once, with it (it stays callable from Python, which compiles
    it on its own).  Measured, this pays for a large callee with one call
    site (``warp_bilinear``) and costs for small helpers called from several
    places, which are typed again at each; see docs/benchmarks.md.  Only with
    the caller's fastmath flags: inlined code takes them.
    """
    return _njit(func, fastmath=FASTMATH, inline="always")


def jit_strict(func):
    """:func:`jit` without fastmath, for code whose every bit must not depend on the caller.

    The bilinear taps divide by the scale; with ``arcp`` LLVM may turn that
    into a multiply by the reciprocal in one inlined copy and not in another,
    which would break the bit-identity of probe and full warp.
    """
    return _njit(func, fastmath=False)


def jit_strict_helper(func):
    """:func:`jit_strict` for a helper only kernels call: no Python entry point (see :func:`jit_helper`)."""
    return _njit(func, fastmath=False, no_cpython_wrapper=True)


#: The kernels the image API calls, by the module of this folder that defines them.
_HOMES = {
    "measure_alpha": "measure",
    "measure_words": "measure",
    "warp_window": "bilinear",
    "warp_window4": "bilinear",
    "warp_rgba8_up": "rgba8",
    "warp_rgba8_down": "rgba8",
    "warp_count": "count",
    "warp_taps_window": "taps",
    "warp_taps_count": "taps",
    "search_scale": "search",
}


class _Kernels:
    """The kernels of :data:`_HOMES` as attributes, each read from its module at every access."""

    def __init__(self, modules):
        self._modules = modules

    def __getattr__(self, name):
        try:
            return getattr(self._modules[_HOMES[name]], name)
        except KeyError:
            raise AttributeError(f"no kernel named {name!r}") from None

    def __dir__(self):
        return sorted(_HOMES)


_KERNELS = None


def kernels():
    """The kernels the image API calls (``kernels().warp_window(...)``), imported (with numba) on first use."""
    global _KERNELS
    if _KERNELS is None:
        import importlib

        _KERNELS = _Kernels({m: importlib.import_module(f"{__name__}.{m}") for m in sorted(set(_HOMES.values()))})
    return _KERNELS
