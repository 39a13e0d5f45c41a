"""``normalize_batch``'s views of one kind, planned with only the Python a view needs: :class:`LikeViews`.

A thread of :func:`pixscale.normalize_batch` holds the GIL only between
kernel calls, so the Python a view runs there is what bounds the speed-up on
many threads (Amdahl: a share ``s`` of GIL-held time gives at most ``1 / s``).
The general body (``_normalize._apply``: checks, :func:`~pixscale._plan.plan_views`,
a :class:`~pixscale.ScaleTransform`, the warp) runs some 35-60 µs of it a
512² view.  For the common batch (views of one shape, dtype and strides,
integer alpha, the bilinear filter, no component filter, no mask) all that
depends only on the options and the batch is done once here, and a view
runs: the measure kernel, the closed-form scale and placement (the same
calls and floats as :func:`~pixscale._plan.plan_measured` for one view),
exact mode's search in one compiled call (:func:`~pixscale._plan.search_view`),
and the warp.  No transform is built: ``normalize_batch`` returns images.

Whatever else a view needs (an empty mask, a scale the fit caps in exact
mode, an object small enough to vanish, ``fit="none"`` without exact mode,
the Python search before the span count is compiled) is left to the general
body: :meth:`LikeViews.normalize` returns None, and the caller runs it, which
gives the same bytes or raises the same error.
"""

import math
from typing import NamedTuple

import numpy as np

from ._measure import alpha_words, measure_alpha
from ._place import footprint, max_scale, place_in
from ._plan import LOW_RES, _canvas, _search_goal, _source_center, search_view
from ._warp import _span_state, kernel_constants, warp_checked

#: ``_count_if_tiny``'s limit: a closed-form object expected to cover fewer output pixels is probed.
_TINY = 4096


class _Placed(NamedTuple):
    """What the warp reads of a :class:`~pixscale.ScaleTransform`: the map, the canvas and the filter."""

    scale: float
    src_center: tuple
    dst_center: tuple
    output_shape: tuple
    filter: str


class LikeViews:
    """The batch-wide part of planning views like ``sample`` with ``options``; ``normalize`` does one view.

    Build it with :meth:`of`, which returns None when the batch is not of
    the kind handled here.
    """

    def __init__(self, options, sample):
        self.shape, self.dtype, self.strides = sample.shape, sample.dtype, sample.strides
        self.options = options
        self.exact, self.center, self.fit, self.target = options.exact, options.center, options.fit, options.target
        self.premultiplied = options.premultiplied
        self.background = options.background
        alpha = sample if sample.ndim == 2 else sample[:, :, -1]
        key = (alpha.shape, alpha.dtype, options.object_mask.threshold, options.output_shape, options.margin)
        canvas = _canvas((*key, options.fit, options.filter))  # raises for a margin too wide, as every view would
        self.thr, self.output_shape, self.ideal, self.source_px, self.pad, self.margins, self.n_out, self.rooms = canvas
        self.words = alpha_words(sample) is not None
        self.unpack = self.exact and not alpha.flags.c_contiguous
        self.goal = _search_goal(self.target, self.n_out, 1)
        self.rounding, self.consts = True, kernel_constants(alpha.dtype)  # integer alpha only (see of)

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
        if type(image) is not np.ndarray or image.shape != self.shape or image.strides != self.strides:
            return None
        if image.dtype != self.dtype:
            return None
        alpha = image if image.ndim == 2 else image[:, :, -1]
        unpacked = np.empty(alpha.shape, alpha.dtype) if self.unpack else None
        m = measure_alpha(alpha, self.thr, image.view("<u4")[:, :, 0] if self.words else None, unpacked)
        if m.count == 0:
            return None  # the body raises EmptyMaskError
        src = _source_center(m, self.center)
        extent = footprint(m.bbox, src, self.source_px)  # the support is the bbox: integer alpha, bilinear
        cap = max_scale(self.fit, extent, self.ideal, self.output_shape, self.margins, self.pad)
        scale = self.target / math.sqrt(m.count / self.n_out)
        if self.exact:
            if _span_state(alpha.dtype) is not True:
                return None  # the Python search, which counts towards compiling the span count
            x0, y0, x1, y1 = m.bbox
            found, _ = search_view(
                alpha if unpacked is None else unpacked, self.thr, m.bbox, (x0 - 1, y0 - 1, x1 + 1, y1 + 1), src,
                self.ideal, self.rooms, extent, self.output_shape, self.n_out, scale * LOW_RES, self.target,
                self.goal, self.rounding, self.consts,
            )  # fmt: skip
            scale = found[0]
            if scale > cap or found[1] == 0:
                return None  # the cap's own ratio is probed, or the object vanished: the body
        else:
            scale = min(scale, cap)
            if self.fit == "none" or scale * scale * m.count < _TINY:
                return None  # probed by the body: what the canvas cuts, or whether a tiny object survives
        dst = self.ideal if self.rooms is None else place_in(scale, extent, self.ideal, self.rooms)
        placed = _Placed(scale, src, dst, self.output_shape, "bilinear")
        return warp_checked(image, placed, self.premultiplied, self.background, out=out)
