"""Where the scaled object goes on the canvas: the fit rules and the margin.

A plan scales about a source centre that lands on the canvas centre.  The
object's *footprint* is the open box, around its mask's bounding box, where
bilinear samples of a mask pixel can be non-zero: half a source pixel wider
than the box on every side.  Mapped into the output, the footprint must
contain no output pixel centre outside the canvas less the margin, or some
of the object's alpha would be lost.  Three rules keep (or do not keep) it
there:

``"shift"``
    Scale to the target, then move the object by the smallest amount that
    keeps its footprint inside; only when the footprint is wider (or taller)
    than the room does the scale shrink, to exactly the largest that fits.
``"shrink"``
    Keep the centre on the canvas centre and cap the scale where the
    footprint would leave the canvas (pixscale 0.1's ``fit=True``).
``"none"``
    Neither: the object may be cut off; the plan counts what was lost.

The source point that lands on the canvas centre is the ``center`` option:
one of :data:`CENTERS` or an explicit point.  All the arithmetic is per axis
and in closed form.
"""

import math
import re

from ._validate import as_float, check_point

CENTERS = ("centroid", "bbox", "image")
Center = str | tuple[float, float]  # one of CENTERS, or an (x, y) point
FITS = ("shift", "shrink", "none")
_PERCENT = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*%\s*")

# pixscale 0.1 took fit=True / False; True meant "shrink" and was read as "shift" for a while:
# each is refused with what to write instead.
_FIT_BOOLS = {
    True: '`fit=True` is no longer accepted: in pixscale 0.1 it meant `fit="shrink"` (keep the centre on the '
    'canvas centre and shrink the object until it fits); write `fit="shrink"` for that, or `fit="shift"` (the '
    "default) to keep the scale and move the object off centre as little as needed",
    False: '`fit=False` is no longer accepted: write `fit="none"` for it (the object may be cut off), or '
    '`fit="shift"` (the default) or `fit="shrink"` to keep it whole on the canvas',
}


def check_fit(fit):
    """``fit`` as one of :data:`FITS`; ``True`` or ``False`` (pixscale 0.1) is a ValueError saying what to write."""
    if isinstance(fit, bool):
        raise ValueError(_FIT_BOOLS[fit])
    if isinstance(fit, str) and fit in FITS:
        return fit
    raise ValueError(f"`fit=` must be one of {', '.join(map(repr, FITS))}; got {fit!r}")


def check_center(center):
    """``center`` as one of :data:`CENTERS`, or as an (x, y) pair of floats."""
    if isinstance(center, str):
        if center not in CENTERS:
            raise ValueError(
                f"`center=` must be one of {', '.join(map(repr, CENTERS))} or an (x, y) point; got {center!r}"
            )
        return center
    return check_point(center, name="center")


def parse_margin(margin):
    """``margin`` as ``(value, is_percent)``: a number of pixels, or a string ``"5%"`` or ``"12"``.

    Raises ValueError for anything else, negative, NaN or infinite values.
    """
    if isinstance(margin, str):
        m = _PERCENT.fullmatch(margin)
        if m:
            value, percent = float(m.group(1)), True
        else:
            try:
                value, percent = float(margin.removesuffix("px")), False
            except ValueError:
                value = None
        if value is None or (percent and value >= 50):
            raise ValueError(
                f"`margin=` must be output pixels (12) or a percentage of the canvas below 50% ('5%'); got {margin!r}"
            )
    elif isinstance(margin, (int, float)) and not isinstance(margin, bool):
        value, percent = as_float(margin), False
    else:
        raise ValueError(f"`margin=` must be output pixels (12) or a percentage of the canvas ('5%'); got {margin!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"`margin=` must be >= 0 pixels (or '0%' to '49%'); got {margin!r}")
    return value, percent


def margins_px(margin, output_shape):
    """The margin in output pixels as ``(mx, my)``: a percentage is of the canvas's width and height.

    An output pixel is in the margin, and receives nothing of the object,
    when its centre is closer to the border than the margin.

    Raises ValueError when the margins leave no room on the canvas.
    """
    value, percent = parse_margin(margin)
    ho, wo = output_shape
    mx, my = (value * wo / 100, value * ho / 100) if percent else (value, value)
    if free_pixels(wo, mx) < 1 or free_pixels(ho, my) < 1:
        n = min(ho, wo)
        most = (n - 1) // 2 + 0.5  # the largest margin that leaves one pixel free on the shorter side
        limit = f"of at most {math.floor(1e4 * most / n) / 100:g}%" if percent else f"of at most {most:g} pixels"
        raise ValueError(
            f"`margin={margin!r}` leaves no pixel of room for the object on an output canvas of shape "
            f"{tuple(output_shape)}, so the output would be blank; use a `margin=` {limit} on this canvas."
        )
    return mx, my


def free_pixels(n, m):
    """How many output pixels along an axis of ``n`` pixels lie outside a margin of ``m`` (see :func:`_room`)."""
    return n - 2 * math.ceil(m - 0.5)


def footprint(bbox, src_center, reach=0.5):
    """Per axis ``(lo, hi)``: the footprint's extent relative to the source centre, ``((x), (y))``.

    The footprint is the bounding box grown by ``reach`` source pixels: how
    far the filter spreads an object pixel (half a pixel for bilinear).
    """
    x0, y0, x1, y1 = bbox
    cx, cy = src_center
    return ((x0 - reach - cx, x1 + reach - cx), (y0 - reach - cy, y1 + reach - cy))


def _room(n, m, pad=0.0):
    """The interval ``[k - 0.5, n - k + 0.5]`` the mapped (open) footprint may fill along one axis.

    ``k = ceil(m - 0.5)`` is the number of margin pixels on each side: those
    whose centre lies closer to the border than ``m``.  The footprint may
    reach up to, but not over, the centres of the margin's innermost pixels.
    ``pad`` output pixels more are kept free on each side, for a filter
    whose reach is partly in output pixels (see :func:`pixscale._filters.reach`).
    """
    k = math.ceil(m - 0.5)
    return k - 0.5 + pad, n - k + 0.5 - pad


def max_scale(fit, extent, ideal, output_shape, margins, pad=0.0):
    """The largest scale at which ``fit`` keeps the footprint inside the canvas less the margins.

    ``extent`` is :func:`footprint`'s, ``ideal`` the destination of the
    source centre before any move, ``margins`` :func:`margins_px`'s.
    ``math.inf`` for ``"none"`` or when nothing limits the scale.
    """
    if fit == "none":
        return math.inf
    ho, wo = output_shape
    limit = math.inf
    for (lo, hi), d, n, m in zip(extent, ideal, (wo, ho), margins, strict=True):
        a, b = _room(n, m, pad)
        if fit == "shift":
            if hi > lo:
                limit = min(limit, (b - a) / (hi - lo))
            continue
        if not a < d < b:
            raise ValueError(
                f"the centre ({d:g}) is not inside the room the margin leaves ({a:g} to {b:g}) "
                f'on a canvas {n} px wide; lower `margin=` or use `fit="shift"`'
            )
        if lo < 0:
            limit = min(limit, (d - a) / -lo)
        if hi > 0:
            limit = min(limit, (b - d) / hi)
    return limit


def place(fit, scale, extent, ideal, output_shape, margins, pad=0.0):
    """Where the source centre lands at ``scale``: ``ideal``, moved by ``"shift"`` only as far as needed.

    The smallest move along each axis that brings the mapped footprint
    ``[d + scale * lo, d + scale * hi]`` inside the room: clamp ``ideal`` to
    the interval of positions that fit.  When the footprint is larger than
    the room (a scale above :func:`max_scale`) the interval is empty and its
    midpoint is used, which balances the overhang.
    """
    if fit != "shift":
        return ideal
    return place_in(scale, extent, ideal, rooms(output_shape, margins, pad))


def rooms(output_shape, margins, pad=0.0):
    """:func:`_room` of each axis, ``((x), (y))``: what :func:`place_in` takes, computed once per view."""
    ho, wo = output_shape
    mx, my = margins
    return _room(wo, mx, pad), _room(ho, my, pad)


def place_in(scale, extent, ideal, rooms):
    """:func:`place` for ``fit="shift"`` with the axes' :func:`rooms` given (exact mode asks once a probe)."""
    ((lo_x, hi_x), (lo_y, hi_y)), (dx, dy), ((ax, bx), (ay, by)) = extent, ideal, rooms
    first, last = ax - scale * lo_x, bx - scale * hi_x
    x = min(max(dx, first), last) if first <= last else (first + last) / 2
    first, last = ay - scale * lo_y, by - scale * hi_y
    y = min(max(dy, first), last) if first <= last else (first + last) / 2
    return (x, y)
