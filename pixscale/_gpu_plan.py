"""Measuring and planning views that live on a GPU, with the CPU's planner.

The objects are measured on the device (``measure_batch`` of
:mod:`pixscale.kernels.gpu`, every view of a batch in one launch); only the
seven numbers of each view come back to the host.  From them the views are
planned with the CPU's planner's pieces (:mod:`pixscale._plan`): the same
:class:`~pixscale.Measurement` and :class:`~pixscale.ScaleTransform` objects,
the same placement and the same exact-mode search.  A batch's views, each
planned alone, search together as array operations
(:func:`pixscale._gpu_search.plan_alone`): the probes of every view still
searching go to the device in one ``count_batch`` launch a round, so a batch
of N views costs about as many launches as its longest search has steps, and
no Python runs per view and probe.  :func:`plan_group_views` plans a group
with :func:`pixscale._plan.plan_measured` itself, its probes
(:class:`DeviceProbe`) a launch each.
"""

import math

import numpy as np

from ._filters import lift, reach
from ._gpu_search import counts, plan_alone
from ._measure import Measurement
from ._plan import Measured, _Probe, _support, plan_measured
from ._validate import EmptyMaskError, threshold_value


def measure_views(kernels, alpha, threshold, stream):
    """:class:`Measurement` of each (H, W) view of the device array ``alpha`` (N, H, W): ``alpha > threshold``.

    ``threshold`` is in the alpha's own units (see :func:`threshold_value`).
    """
    stats = kernels.measure_batch(alpha, threshold, stream).copy_to_host(stream=stream)
    _sync(stream)
    shape = tuple(alpha.shape[1:3])
    return [Measurement.from_sums(c, sx, sy, box, shape) for c, sx, sy, *box in stats.tolist()]


def _sync(stream):
    if stream:
        stream.synchronize()


def _supports(kernels, alpha, thr, measurements, filter, stream):
    """The box of :func:`pixscale._plan._support` of every view: the pixels whose warp can exceed ``thr``.

    Bilinear and area: the bbox, or for float alpha that of ``alpha > thr *
    (1 - 1e-5)`` (weights that sum to 1 + a few ulps lift alpha at the
    threshold), measured on the device.  Lanczos-4 (and ``"auto"``) lift faint
    alpha *connected* to the object, which takes a labelling of the components
    (scipy, on the host): each view's alpha is copied to the host for it, once
    per plan (Numba copies a strided view's span: the alpha channel of an RGBA
    view brings the view's bytes).
    """
    if lift(filter) != 1.0:
        return [_support(alpha[i].copy_to_host(), thr, m.bbox, filter) for i, m in enumerate(measurements)]
    low = alpha.dtype.type(thr * (1 - 1e-5))
    if alpha.dtype.kind != "f" or low == thr:
        return [m.bbox for m in measurements]
    return [m.bbox for m in measure_views(kernels, alpha, low, stream)]


def measured_views(kernels, alpha, options, stream):
    """Measure the object of every view of ``alpha`` (N, H, W) on the device.

    Returns a :class:`Measured` each (its ``alpha`` the batch ``alpha``, not
    a slice of it) and the box of its support (see :func:`_supports`), for
    :func:`plan_measured`.

    Raises :class:`EmptyMaskError` (its message naming the view, for a batch)
    for a view without an object.
    """
    rule = options.object_mask
    thr = threshold_value(alpha.dtype, rule.threshold)
    ms = measure_views(kernels, alpha, thr, stream)
    for i, m in enumerate(ms):
        if m.count == 0:
            where = f"image {i} of the batch: " if len(ms) > 1 else ""
            raise EmptyMaskError(
                f"{where}no pixel has alpha > {rule.threshold:g} (on the 0-255 scale) in this {m.shape} image, "
                "so there is no object to scale; check the alpha channel or lower `threshold=`."
            )
    supports = _supports(kernels, alpha, thr, ms, options.filter, stream)
    # Each view's alpha is the batch itself (its dtype is all the planner reads of it; the probes index the
    # batch): slicing a Numba device array would make a new Python device-array object a view.
    return [Measured(m, alpha) for m in ms], supports


def counter(kernels, alpha, thr, filter, stream):
    """``count(rows)``: one ``count_batch`` launch for the probe rows ``rows`` (M, 10), their counts (M,) int64.

    Each row is ``view, scale, src_cx, src_cy, dst_cx, dst_cy, r0, r1, c0, c1``:
    view ``view`` of ``alpha`` warped at ``scale``, counted in the output
    window ``[r0, r1) x [c0, c1)`` (which may leave the canvas, as the CPU
    probe's windows do).
    """
    from numba import cuda

    def count(rows):
        h = int((rows[:, 7] - rows[:, 6]).max())
        w = int((rows[:, 9] - rows[:, 8]).max())
        params = cuda.to_device(np.ascontiguousarray(rows, np.float64), stream=stream)
        values = kernels.count_batch(alpha, thr, params, h, w, stream, filter).copy_to_host(stream=stream)
        _sync(stream)
        return values

    return count


class DeviceProbe(_Probe):
    """:class:`pixscale._plan._Probe` of a view on the device (:func:`plan_group_views`): a launch per count.

    The windows, the memo and the ratio are the CPU probe's; only
    :meth:`_count` differs.
    """

    def __init__(self, view, count):
        self.view, self.count = view, count
        bbox = view.support
        r = math.ceil(reach(view.filter)[0] + 0.5)  # source pixels whose taps can reach the object
        self.box = (bbox[0] - r, bbox[1] - r, bbox[2] + r, bbox[3] + r)
        self.seen = {}
        self.kernel, self.found = None, None  # no CPU kernel, no compiled search's answer

    def _count(self, scale, dst, r0, r1, c0, c1):
        key = (scale, r0, r1, c0, c1)
        if key not in self.seen:
            row = np.array([(0, scale, *self.view.src_center, *dst, r0, r1, c0, c1)], np.float64)
            self.seen[key] = int(counts(self.count, row)[0])
        return self.seen[key]


def plan_views(kernels, alpha, options, stream, views_per_launch=None):
    """The :class:`ScaleTransform` of every view of ``alpha`` (N, H, W) on the device, each planned alone.

    Each plan is :func:`plan_measured`'s for one view, as
    :func:`pixscale.normalize_batch` plans each image; the views' exact
    searches run together as array operations
    (:func:`pixscale._gpu_search.plan_alone`), the probes of up to
    ``views_per_launch`` views (default: all) in one ``count_batch`` launch a
    round.  Errors name the view of a batch.
    """
    objects, supports = measured_views(kernels, alpha, options, stream)
    thr = threshold_value(alpha.dtype, options.object_mask.threshold)
    count = counter(kernels, alpha, thr, options.filter, stream)
    return plan_alone(objects, supports, options, count, views_per_launch)


def plan_group_views(kernels, alphas, options, stream):
    """:func:`pixscale.plan_group` of views on the device, each an (1, H, W) alpha (their sizes may differ).

    The group's search is one (the mean ratio of its views), so its probes
    run one after the other, each view's on its own alpha.
    """
    objects, supports, count = [], [], {}
    for alpha in alphas:
        (measured,), (box,) = measured_views(kernels, alpha, options, stream)
        objects.append(measured)
        supports.append(box)
        thr = threshold_value(alpha.dtype, options.object_mask.threshold)
        count[id(measured.alpha)] = counter(kernels, alpha, thr, options.filter, stream)
    probe = lambda v: DeviceProbe(v, count[id(v.alpha)])  # noqa: E731
    return plan_measured(objects, options, probe=probe, supports=supports)
