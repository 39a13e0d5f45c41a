"""Measuring and planning views that live on a GPU, with the CPU's planner.

The objects are measured on the device (``measure_batch`` of
:mod:`pixscale.kernels.gpu`, every view of a batch in one launch); only the
seven numbers of each view come back to the host.  From them the views are
planned by :func:`pixscale._plan.plan_measured`, the body of every CPU plan:
the same :class:`~pixscale.Measurement` and :class:`~pixscale.ScaleTransform`
objects, the same placement and the same exact-mode search.  Only the probe
differs: :class:`DeviceProbe` asks :class:`Rounds` for its counts, and
:class:`Rounds` answers the probes of every view being planned with one
``count_batch`` launch a round (the views' searches run in threads that meet
at each round), so a batch of N views costs about as many launches as its
longest search has steps, not N times as many.
"""

import contextlib
import math
import threading

import numpy as np

from ._filters import lift, reach
from ._measure import Measurement
from ._parallel import run_parallel
from ._plan import Measured, _Probe, _support, plan_measured
from ._validate import EmptyMaskError, threshold_value

#: The most views whose searches meet at each round (one thread each).
LOCKSTEP = 256


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

    Returns a :class:`Measured` each and the box of its support (see
    :func:`_supports`), for :func:`plan_measured`.

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
    return [Measured(m, alpha[i]) for i, m in enumerate(ms)], supports


class Rounds:
    """Probe counts of several views' searches, answered together: one ``count_batch`` launch per round.

    Each view being planned runs in its own thread between :meth:`enter` and
    :meth:`leave`; a probe blocks in :meth:`count` until every view being
    planned has asked for one (or finished), and the last to ask launches the
    round for all of them.  Each row counts its own window of the output grid,
    as the CPU probe does.
    """

    def __init__(self, kernels, alpha, thr, filter, stream):
        self.kernels, self.alpha, self.thr, self.filter, self.stream = kernels, alpha, thr, filter, stream
        self.cond = threading.Condition()
        self.active = 0
        self.asked = []  # (answer slot, row)

    def enter(self):
        with self.cond:
            self.active += 1

    def leave(self):
        with self.cond:
            self.active -= 1
            self._launch_if_all_asked()

    def count(self, index, scale, src_center, dst_center, window):
        """Pixels of view ``index``'s alpha warped at ``scale`` that exceed the threshold in ``window``.

        ``window`` is ``(r0, r1, c0, c1)``, row and column ranges of the output
        grid (they may leave the canvas: the count is that of an unbounded one).
        """
        row = (index, scale, *src_center, *dst_center, *window)
        slot: list = []
        with self.cond:
            self.asked.append((slot, row))
            self._launch_if_all_asked()
            while not slot:
                self.cond.wait()
        if isinstance(slot[0], BaseException):
            raise slot[0]
        return slot[0]

    def _launch_if_all_asked(self):
        if not self.asked or len(self.asked) < self.active:
            return
        asked, self.asked = self.asked, []
        try:
            answers = self._launch([row for _, row in asked])
        except BaseException as exc:  # every view of the round sees the failure
            answers = [exc] * len(asked)
        for (slot, _), answer in zip(asked, answers, strict=True):
            slot.append(answer)
        self.cond.notify_all()

    def _launch(self, rows):
        from numba import cuda

        params = np.array(rows, np.float64)
        h = int((params[:, 7] - params[:, 6]).max())
        w = int((params[:, 9] - params[:, 8]).max())
        device_params = cuda.to_device(params, stream=self.stream)
        counts = self.kernels.count_batch(self.alpha, self.thr, device_params, h, w, self.stream, self.filter)
        values = counts.copy_to_host(stream=self.stream)
        _sync(self.stream)
        return values.tolist()


class DeviceProbe(_Probe):
    """:class:`pixscale._plan._Probe` of view ``index`` of a batch on the device: its counts come from :class:`Rounds`.

    The windows, the memo and the ratio are the CPU probe's; only
    :meth:`_count` differs.
    """

    def __init__(self, view, index, rounds):
        self.view, self.index, self.rounds = view, index, rounds
        bbox = view.support
        r = math.ceil(reach(view.filter)[0] + 0.5)  # source pixels whose taps can reach the object
        self.box = (bbox[0] - r, bbox[1] - r, bbox[2] + r, bbox[3] + r)
        self.seen = {}
        self.kernel, self.found = None, None  # no CPU kernel, no compiled search's answer

    def _count(self, scale, dst, r0, r1, c0, c1):
        key = (scale, r0, r1, c0, c1)
        if key not in self.seen:
            self.seen[key] = (
                0
                if r0 >= r1 or c0 >= c1
                else self.rounds.count(self.index, scale, self.view.src_center, dst, (r0, r1, c0, c1))
            )
        return self.seen[key]


def plan_views(kernels, alpha, options, stream, threads=LOCKSTEP, selected=contextlib.nullcontext):
    """The :class:`ScaleTransform` of every view of ``alpha`` (N, H, W) on the device, each planned alone.

    Each plan is :func:`plan_measured`'s for one view, as
    :func:`pixscale.normalize_batch` plans each image; up to ``threads``
    views are planned at once, their probes meeting in :class:`Rounds`
    (each thread in the context ``selected()``: the views' GPU current, for
    whichever of them launches).  Errors name the view of a batch.
    """
    objects, supports = measured_views(kernels, alpha, options, stream)
    n = len(objects)
    rounds = Rounds(kernels, alpha, threshold_value(alpha.dtype, options.object_mask.threshold), options.filter, stream)
    plans = [None] * n

    def one(i):
        with selected():  # this thread may launch a round (in count or in leave)
            rounds.enter()
            try:
                probe = lambda v: DeviceProbe(v, i, rounds)  # noqa: E731
                plans[i] = plan_measured([objects[i]], options, probe=probe, supports=[supports[i]])[0]
            except (ValueError, TypeError) as exc:
                if n == 1:
                    raise
                raise type(exc)(f"image {i} of the batch: {exc}") from exc
            finally:
                rounds.leave()

    # Only exact mode (and fit="none") probes every view; the closed form plans in the calling thread.
    run_parallel(one, n, min(threads, LOCKSTEP) if options.exact or options.fit == "none" else 1)
    return plans


def plan_group_views(kernels, alphas, options, stream):
    """:func:`pixscale.plan_group` of views on the device, each an (1, H, W) alpha (their sizes may differ).

    The group's search is one (the mean ratio of its views), so its probes
    run one after the other, each view's on its own alpha.
    """
    objects, supports, rounds = [], [], {}
    for alpha in alphas:
        (measured,), (box,) = measured_views(kernels, alpha, options, stream)
        objects.append(measured)
        supports.append(box)
        rounds[id(measured.alpha)] = Rounds(
            kernels, alpha, threshold_value(alpha.dtype, options.object_mask.threshold), options.filter, stream
        )
    for r in rounds.values():
        r.enter()  # one caller asks for every view's counts: each answers at once
    probe = lambda v: DeviceProbe(v, 0, rounds[id(v.alpha)])  # noqa: E731
    return plan_measured(objects, options, probe=probe, supports=supports)
