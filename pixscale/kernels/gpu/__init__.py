"""CUDA kernels (numba-cuda) and their host-side launchers: measure, warp and exact mode's probe on the GPU.

The contract with :mod:`pixscale._gpu` (the only importer, lazily):
:func:`measure_batch`, :func:`warp_batch`, :func:`count_batch` and
:data:`FILTERS`.  Each takes numba device arrays (real, or the simulator's),
launches on ``stream`` (a numba stream, or 0 for the default one), never
copies image data to the host and never synchronises.  Semantics are those of
the CPU kernels (:mod:`pixscale.kernels.measure`,
:mod:`pixscale.kernels.bilinear`, :mod:`pixscale.kernels.taps`; NumPy spec
:mod:`pixscale.reference`), with the same float operations in the same type
and order, so the same inputs give the same bits: measure and every bilinear
value exactly; the tap filters too, but for the float64 ``sin`` of their
weights, which on the device is libdevice's (1 LSB at most, see
:mod:`pixscale.kernels.gpu.taps`).

The package (a folder, so that the CPU kernels' tests, which import every
module of :mod:`pixscale.kernels`, never import numba.cuda):

* ``device``: the arithmetic (explicit casts; products and sums that NVVM
  cannot fuse into an FMA) and the bilinear taps;
* ``pixel``: one bilinear output pixel, and the stores every warp ends with;
* ``taps``: one Lanczos-4 or area output pixel;
* ``cuda_kernels``: the ``@cuda.jit`` kernels;
* here: the launchers and their configuration.

What runs where
---------------
On the device: every pixel loop (the measure reduction, the warps, the probe
counts) and the fills that initialise their outputs.  On the host: only the
launch arithmetic here (grid sizes from array shapes, the threshold and the
store constants of a dtype).  Parameters (the transforms, the probe rows) are
device arrays the caller fills.

Launch configuration (chosen, not tuned: no GPU was available to measure it)
----------------------------------------------------------------------------
* ``measure_batch``: one fill launch (a thread per view), then blocks of
  :data:`~pixscale.kernels.gpu.cuda_kernels.TPB` threads (256; 32 under the
  simulator, which runs each thread in Python), a grid of ``(bx, N)``:
  ``bx`` blocks share one view, taking its rows in turn, the threads of a
  block a row's columns (about :data:`PIXELS_PER_THREAD` pixels a thread; at
  most one block a row and :data:`MAX_BLOCKS`; no division per pixel), a
  shared-memory tree reduction per block, then 7 atomics per block into the
  (N, 7) float64 result.
* ``warp_batch``: one thread per output pixel (all channels), blocks of
  32 x 8, a grid of ``(ceil(W2 / 32), ceil(H2 / 8), N)``; the bilinear
  kernel holds no tap-filter code (its registers stay few).
* ``count_batch``: one fill launch, then like measure, a grid of ``(bx, M)``
  over the probe rows (each output row's taps computed once per thread, not
  per pixel), one int64 atomic add per block.

Resources per thread from ``ptxas -arch=sm_90 -v`` on the PTX numba-cuda
0.30.4 makes (uint8 alpha / float32; no spills anywhere): measure 56 / 46
registers and 14 KiB of shared memory a block, warp 64, count 62, the
tap-filter warp 96 and count 128 (it keeps a row's Lanczos weights, computed
once per row instead of once per pixel; 176 bytes of stack hold them).  How
fast any of this runs on a GPU was not measured here.

Every launch has at least :data:`MIN_GRID` blocks (128 on a device: fewer
make numba-cuda warn of low occupancy), the grid widened along x where a
small batch would give fewer; the extra blocks find no work.

Grid dimensions y and z hold at most 65535: larger batches are launched in
chunks (each kernel takes its first view / row as ``base``).

Importing this package imports numba.cuda (set ``NUMBA_ENABLE_CUDASIM=1``
before that to run under numba's CUDA simulator) but compiles nothing; each
kernel compiles on its first launch per argument type (``cache=False``: the
CPU kernels' on-disk cache is not used here).  :mod:`pixscale` and
:func:`pixscale.kernels.kernels` never import it.
"""

import math

import numpy as np
from numba import cuda

from . import cuda_kernels as _k
from . import mask as _mask
from .device import SIMULATOR
from .taps import AREA, AUTO, BILINEAR, LANCZOS4

__all__ = [
    "FILTERS",
    "SIMULATOR",
    "attach_alpha",
    "composite_batch",
    "count_batch",
    "mask_range",
    "measure_batch",
    "warp_batch",
]

#: The resampling filters the GPU kernels implement (the names of :data:`pixscale._filters.FILTERS`).
FILTERS = ("bilinear", "lanczos4", "area", "auto")
#: The kernels' code of each filter (``auto``: area below scale 1, Lanczos-4 above, bilinear at 1, per view).
FILTER_CODES = {"bilinear": BILINEAR, "lanczos4": LANCZOS4, "area": AREA, "auto": AUTO}

#: The dtypes of images (and alpha channels) the kernels take.
DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))

#: Pixels per thread aimed at by the grid-stride reductions (measure, count).
PIXELS_PER_THREAD = 8
#: Most blocks that share one view (measure) or one probe row (count).
MAX_BLOCKS = 1024
#: Most blocks along grid dimensions y and z: bigger batches go in several launches.
MAX_GRID_YZ = 65535
#: The fewest blocks a launch has (numba-cuda warns of low occupancy below 128); 1 under the simulator,
#: which runs every block's threads in Python.
MIN_GRID = 1 if SIMULATOR else 128
#: Threads per block of the warp, along x (output columns) and y (output rows).
WARP_BLOCK = (32, 8)


def _filter_code(name):
    if name not in FILTER_CODES:
        raise ValueError(f"the GPU kernels have the filters {', '.join(map(repr, FILTERS))}; got {name!r}")
    return FILTER_CODES[name]


def _check_dtype(dtype, what):
    if np.dtype(dtype) not in DTYPES:
        names = ", ".join(str(d) for d in DTYPES)
        raise TypeError(f"the GPU kernels take {what} of dtype {names}; got {np.dtype(dtype)}")


def _threshold(dtype, thr):
    """``thr`` (in the alpha's units, as the CPU kernels get it) as the kernel compares: int, or float32."""
    return np.float32(thr) if np.dtype(dtype).kind == "f" else int(thr)


def _store_constants(dtype):
    """``(rounding, wide, maxval)`` of images of ``dtype`` (as :func:`pixscale._warp.kernel_constants`)."""
    dtype = np.dtype(dtype)
    rounding = dtype.kind == "u"
    maxval = np.float32(np.iinfo(dtype).max if rounding else 0.0)
    return rounding, dtype == np.uint16, maxval


def _reduction_blocks(rows, cols):
    """Blocks along x for a reduction over ``rows x cols`` pixels: the blocks take the rows in turn."""
    return max(1, min(math.ceil(rows * cols / (_k.TPB * PIXELS_PER_THREAD)), rows, MAX_BLOCKS))


def _launch(kernel, grid, block, stream, *args):
    """``kernel[grid, block, stream](*args)``, the grid widened along x to :data:`MIN_GRID` blocks.

    numba-cuda warns of low occupancy (a ``NumbaPerformanceWarning``) when a
    launch has fewer than 128 blocks, which a small batch (or a fill) would.
    Rather than silence the warning (a change of the process's warning
    filters, which is not thread-safe, or of numba's configuration), the
    launches here have enough blocks: every kernel of
    :mod:`~pixscale.kernels.gpu.cuda_kernels` lets blocks past its work along
    x do nothing (a bounds check, or a stride loop they never enter), so the
    extra blocks change no result; on a GPU they cost a few microseconds.
    """
    kernel[padded(grid), block, stream](*args)


def padded(grid):
    """``grid`` (an int or a tuple) with its x dimension raised until it has at least :data:`MIN_GRID` blocks."""
    dims = (grid,) if isinstance(grid, int) else tuple(grid)
    rest = math.prod(dims[1:])
    return (max(dims[0], math.ceil(MIN_GRID / rest)), *dims[1:])


def _chunks(n):
    """``(base, count)`` of the launches that cover ``n`` views or rows along grid y or z."""
    return [(base, min(MAX_GRID_YZ, n - base)) for base in range(0, n, MAX_GRID_YZ)]


def measure_batch(alpha, thr, stream=0):
    """Count, coordinate sums and box of ``alpha > thr`` for each view of a batch.

    Parameters
    ----------
    alpha : (N, H, W) device array, uint8, uint16 or float32
        Any strides (a view of the last channel of an (N, H, W, C) batch).
    thr : number
        The threshold in the alpha's units, as the CPU kernel takes it
        (:func:`pixscale.reference.threshold_in_units`).
    stream : numba stream or 0

    Returns
    -------
    (N, 7) float64 device array
        Per view ``count, sum_x, sum_y, x0, y0, x1, y1`` of the pixels with
        ``alpha > thr``: the sums are of column and row indices, the box
        half-open; an empty view gives ``0, 0, 0, W, H, 0, 0``, as
        :func:`pixscale.kernels.measure.measure_alpha`.
    """
    _check_dtype(alpha.dtype, "alpha")
    n, h, w = alpha.shape
    out = cuda.device_array((n, 7), np.float64, stream=stream)
    if n == 0:
        return out
    _launch(_k.measure_init, math.ceil(n / 128), 128, stream, out, w, h)
    if h * w == 0:
        return out
    bx = _reduction_blocks(h, w)
    t = _threshold(alpha.dtype, thr)
    for base, count in _chunks(n):
        _launch(_k.measure, (bx, count), _k.TPB, stream, alpha, t, base, out)
    return out


def warp_batch(src, out, params, premult, stream=0, filter="bilinear"):
    """Resample-and-pad of each view of ``src`` into ``out``, as :func:`pixscale.warp` does on the CPU.

    Parameters
    ----------
    src : (N, H, W, C) device array, uint8, uint16 or float32, C in {3, 4}
        With four channels the last is alpha.
    out : (N, H2, W2, C) device array of ``src``'s dtype
        Written whole: pixels whose taps all lie outside the source are 0
        (transparent padding).
    params : (N, 5) float64 device array
        Per view ``scale, src_cx, src_cy, dst_cx, dst_cy``: a
        :class:`pixscale.ScaleTransform`'s ``scale``, ``src_center`` and
        ``dst_center``, the values the CPU kernel gets.
    premult : bool
        Interpolate colour premultiplied by alpha and divide it back (four
        channels only; ignored for three).
    stream : numba stream or 0
    filter : str
        One of :data:`FILTERS`; ``"auto"`` and ``"area"`` resolve per view
        by its scale, as :func:`pixscale._filters.resolve` does.

    Notes
    -----
    Integer outputs are rounded half up and clipped as the CPU kernel does;
    float outputs are clipped to [0, 1] as :func:`pixscale.warp` clips them.
    Bilinear pixels are bit-identical to the CPU's; the tap filters' float64
    weights use the device's ``sin``, which may move an output by 1 LSB.
    """
    code = _filter_code(filter)
    _check_dtype(src.dtype, "images")
    n, _, _, nc = src.shape
    _, h2, w2, _ = out.shape
    if n == 0 or h2 == 0 or w2 == 0:
        return out
    rounding, wide, maxval = _store_constants(src.dtype)
    bx, by = WARP_BLOCK
    for base, count in _chunks(n):
        grid = (math.ceil(w2 / bx), math.ceil(h2 / by), count)
        flags = (bool(premult and nc == 4), rounding, wide, maxval)
        if code == BILINEAR:
            _launch(_k.warp, grid, (bx, by, 1), stream, src, out, params, base, *flags)
        else:
            _launch(_k.warp_taps, grid, (bx, by, 1), stream, src, out, params, base, code, *flags)
    return out


def count_batch(alpha, thr, params, out_h, out_w, stream=0, filter="bilinear"):
    """Exact mode's probe for many (view, scale) rows in one launch: counts of warped alpha ``> thr``.

    Parameters
    ----------
    alpha : (N, H, W) device array, uint8, uint16 or float32
        The views' alpha (any strides).
    thr : number
        The threshold in the alpha's units.
    params : (M, 6) or (M, 10) float64 device array
        Per row ``view, scale, src_cx, src_cy, dst_cx, dst_cy`` (``view`` an
        index into ``alpha``).  With ten columns, ``r0, r1, c0, c1`` follow:
        the row counts the output window ``[r0, r1) x [c0, c1)`` (indices of
        the output grid, which may lie outside the canvas, as the CPU probe's
        windows do) instead of the canvas.
    out_h, out_w : int
        The canvas (six columns); with ten, the largest window's size, which
        only sizes the grid.
    stream : numba stream or 0
    filter : str
        One of :data:`FILTERS`, resolved per row by its scale.

    Returns
    -------
    (M,) int64 device array
        Per row the number of output pixels whose warped alpha, stored in the
        alpha's dtype, exceeds ``thr``: the count of
        :func:`pixscale.kernels.count.warp_count` (or, for a tap filter,
        :func:`pixscale.kernels.taps.warp_taps_count`) over the same window
        (the canvas ``[0, out_h) x [0, out_w)`` with six columns).
    """
    code = _filter_code(filter)
    _check_dtype(alpha.dtype, "alpha")
    m = params.shape[0]
    out = cuda.device_array(m, np.int64, stream=stream)
    if m == 0:
        return out
    _launch(_k.fill_zero, math.ceil(m / 128), 128, stream, out)
    rounding, wide, maxval = _store_constants(alpha.dtype)
    bx = _reduction_blocks(out_h, out_w)
    t = _threshold(alpha.dtype, thr)
    for base, count in _chunks(m):
        store = (rounding, wide, maxval, out)
        if code == BILINEAR:
            _launch(_k.count, (bx, count), _k.TPB, stream, alpha, t, params, base, out_h, out_w, *store)
        else:
            _launch(_k.count_taps, (bx, count), _k.TPB, stream, alpha, t, params, base, out_h, out_w, code, *store)
    return out


def mask_range(mask, stream=0):
    """Per view of an (N, H, W) device mask: its lowest and highest finite value, and 1.0 if any is not finite.

    Returns an (N, 3) float64 device array (``inf, -inf, 0`` for an empty
    view), what :func:`pixscale._validate.mask_factor` checks a mask by.
    """
    n, h, w = mask.shape
    out = cuda.device_array((n, 3), np.float64, stream=stream)
    if n == 0:
        return out
    _launch(_mask.mask_range_init, math.ceil(n / 128), 128, stream, out)
    if h * w == 0:
        return out
    bx = _reduction_blocks(h, w)
    for base, count in _chunks(n):
        _launch(_mask.mask_range, (bx, count), _k.TPB, stream, mask, base, out)
    return out


def attach_alpha(src, mask, factor, out, stream=0):
    """``out`` (N, H, W, C + 1): each view of ``src`` (N, H, W, C) with ``mask * factor`` as one more channel.

    ``mask`` is (N, H, W) (bool, integers or floats; a shared mask a
    stride-0 view), ``factor`` an (N,) float64 device array (each view's
    :func:`pixscale._validate.mask_factor`).  A float32 mask is multiplied in
    float32, any other in float64; integer images get the alpha rounded
    half up, as :func:`pixscale._validate.with_mask` does.
    """
    n, h, w, _ = out.shape
    if n == 0 or h * w == 0:
        return out
    single = mask.dtype == np.float32
    rounding = np.dtype(out.dtype).kind != "f"
    bx, by = WARP_BLOCK
    for base, count in _chunks(n):
        grid = (math.ceil(w / bx), math.ceil(h / by), count)
        _launch(_mask.attach_alpha, grid, (bx, by, 1), stream, src, mask, factor, base, single, rounding, out)
    return out


def composite_batch(images, bg, stream=0):
    """Each view of ``images`` (N, H, W, 4) composited onto the colour ``bg`` in place; returns ``images``.

    ``bg`` is a (3,) float64 device array, the colour in the images' own
    scale (:func:`pixscale._warp.background_colour`); the arithmetic is
    :func:`pixscale._warp.composite`'s, the alpha channel kept.
    """
    _check_dtype(images.dtype, "images")
    n, h, w, _ = images.shape
    if n == 0 or h * w == 0:
        return images
    rounding, _, maxval = _store_constants(images.dtype)
    top = float(maxval) if rounding else 1.0
    bx, by = WARP_BLOCK
    for base, count in _chunks(n):
        grid = (math.ceil(w / bx), math.ceil(h / by), count)
        _launch(_k.composite, grid, (bx, by, 1), stream, images, bg, top, rounding, base)
    return images
