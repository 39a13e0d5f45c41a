"""``normalize_batch``'s views of one kind, planned in compiled calls: :class:`LikeViews`.

A thread of :func:`pixscale.normalize_batch` holds the GIL only between
kernel calls, so the Python a view runs there is what bounds the speed-up on
many threads (Amdahl: a share ``s`` of GIL-held time gives at most ``1 / s``).
The general body (``_normalize._apply``: checks, :func:`~pixscale._plan.plan_views`,
a :class:`~pixscale.ScaleTransform`, the warp) runs some 35-60 µs of it a
512² view, most of it slowed by caches that the view's kernels have just
streamed 2 MB through.  For the common batch (views of one shape, dtype and
strides, integer alpha, the bilinear filter, no component filter, no mask)
all that depends only on the options and the batch is done once here, and a
view makes three kernel calls (four in exact mode) with little Python
between them: the measure, the closed-form plan and placement
(:func:`pixscale.kernels.search.place_view`: the arithmetic of
:func:`~pixscale._plan.plan_measured` for one view, float for float), exact
mode's search (:func:`pixscale.kernels.search.search_scale`, as
:func:`~pixscale._plan.search_view` calls it), and the warp.  No transform is
built: ``normalize_batch`` returns images.

Whatever else a view needs (an empty mask, the shrink rule's centre outside
the room, a scale the fit caps in exact mode, an object small enough to
vanish, ``fit="none"`` without exact mode, the Python search before the span
count is compiled) is left to the general body: :meth:`LikeViews.normalize`
returns None, and the caller runs it, which gives the same bytes or raises
the same error.
"""

import threading
from typing import NamedTuple

import numpy as np

from ._measure import alpha_words
from ._place import CENTERS, FITS, rooms
from ._plan import LOW_RES, TINY_OBJECT, _canvas, _search_goal
from ._search import STEPS
from ._warp import _span_state, kernel_constants, warp_checked
from .kernels import kernels


class _Placed(NamedTuple):
    """What the warp reads of a :class:`~pixscale.ScaleTransform`: the map, the canvas and the filter."""

    scale: float
    src_center: tuple
    dst_center: tuple
    output_shape: tuple
    filter: str


class LikeViews:
    """The batch-wide part of planning views like ``sample`` with ``options``; :meth:`normalize` does one view.

    Build it with :meth:`of`, which returns None when the batch is not of
    the kind handled here.
    """

    def __init__(self, options, sample):
        from .kernels import search  # numba: imported by the first batch, not by pixscale

        self.shape, self.dtype, self.strides, self.hw = sample.shape, sample.dtype, sample.strides, sample.shape[:2]
        self.exact, self.target = options.exact, options.target
        self.premultiplied, self.background = options.premultiplied, options.background
        alpha = sample if sample.ndim == 2 else sample[:, :, -1]
        key = (alpha.shape, alpha.dtype, options.object_mask.threshold, options.output_shape, options.margin)
        canvas = _canvas((*key, options.fit, options.filter))  # raises for a margin too wide, as every view would
        self.thr, self.output_shape, ideal, source_px, pad, margins, self.n_out, _ = canvas
        center = options.center
        point = (0.0, 0.0) if isinstance(center, str) else center
        (ax, bx), (ay, by) = rooms(self.output_shape, margins, pad)
        self.placement = np.array((
            CENTERS.index(center) if isinstance(center, str) else len(CENTERS), *point, FITS.index(options.fit),
            *ideal, ax, bx, ay, by, source_px, *self.output_shape, 1, LOW_RES, TINY_OBJECT,
        ), np.float64)  # fmt: skip
        self.words = alpha_words(sample) is not None
        self.thr_words = np.uint32(self.thr)
        self.unpack = self.exact and not alpha.flags.c_contiguous
        self.scratch = threading.local()  # a thread's unpacked alpha and search rows (see _buffers)
        self.goal = _search_goal(self.target, self.n_out, 1)
        self.consts = kernel_constants(alpha.dtype)  # integer alpha (see of): rounding is True
        self.place_view, self.search_scale = search.place_view, search.search_scale
        self.measure_words, self.measure_alpha = kernels().measure_words, kernels().measure_alpha

    def _buffers(self):
        """This thread's scratch arrays for exact mode: ``(unpacked alpha or None, search rows)``.

        Both are rewritten whole by each view before they are read (the
        measure kernel copies the alpha, ``search_scale`` builds its rows
        table first), so a thread reuses them from view to view instead of
        allocating (and page-faulting) 256 KB of alpha a 512² view.
        """
        buffers = getattr(self.scratch, "buffers", None)
        if buffers is None:
            h = self.hw[0]
            unpacked = np.empty(self.hw, self.dtype) if self.unpack else None
            buffers = self.scratch.buffers = (unpacked, np.empty((h, 6), np.int64))
        return buffers

    @classmethod
    def of(cls, images, options, mask):
        """The :class:`LikeViews` of a batch (an array, or a sequence whose first item is the sample), or None."""
        o = options
        if mask is not None or o.erase_specks or o.object_mask.filters or o.filter != "bilinear" or len(images) == 0:
            return None
        sample = images[0]
        if type(sample) is not np.ndarray or sample.dtype.type not in (np.uint8, np.uint16):
            return None
        if not sample.dtype.isnative or not (sample.ndim == 2 or (sample.ndim == 3 and sample.shape[2] in (1, 2, 4))):
            return None
        try:
            return cls(options, sample)
        except ValueError:  # a margin too wide for the canvas: the body raises it, naming the view
            return None

    def normalize(self, image, out=None):
        """:func:`pixscale.normalize` of one view like the sample (into ``out``), or None to leave it to the body."""
        placed = self.plan(image)
        return None if placed is None else warp_checked(image, placed, self.premultiplied, self.background, out=out)

    def plan(self, image):
        """The plan of one view like the sample (what the warp reads of it), or None to leave the view to the body."""
        if type(image) is not np.ndarray or image.shape != self.shape or image.strides != self.strides:
            return None
        if image.dtype != self.dtype or (self.exact and _span_state(self.dtype) is not True):
            return None  # before the span count: the Python search, which counts towards compiling it
        stats, g = np.empty(7, np.int64), np.empty(28)
        unpacked, rows = self._buffers() if self.exact else (None, None)
        # RGBA8 is measured from its words and (exact mode) searched on the unpacked alpha: no alpha view then
        alpha = None if self.words else image if image.ndim == 2 else image[:, :, -1]
        if self.words:  # the measure kernel pixscale._measure.measure_alpha would call
            self.measure_words(image.view("<u4")[:, :, 0], self.thr_words, stats, unpacked)
        elif unpacked is not None:
            self.measure_alpha(alpha, self.thr, stats, unpacked)
        else:
            self.measure_alpha(alpha, self.thr, stats)
        h, w = self.hw
        if not self.place_view(stats, self.placement, h, w, self.n_out, self.target, self.exact, g):
            return None
        values = g.tolist()
        if self.exact:
            thr = self.thr
            # as _plan.search_view calls it: integer alpha's levels are the threshold, its rounding True
            scale, on, _, dx, dy = self.search_scale(
                alpha if unpacked is None else unpacked, thr, rows, thr, thr, g, self.n_out, values[25], self.target,
                self.goal, STEPS, True, self.consts,
            )  # fmt: skip
            if scale > values[24] or on == 0:
                return None  # the cap's own ratio is probed, or the object vanished: the body
        else:
            scale, dx, dy = values[25:]
        return _Placed(scale, (values[0], values[1]), (dx, dy), self.output_shape, "bilinear")
