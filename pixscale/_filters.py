"""The resampling filters: their names, which one a scale uses, and how far each one reaches.

This is the one home of the filter choice.  :func:`pixscale.warp`, exact
mode's probe and the placement's footprint all ask here; the kernels take
the integer :data:`CODES` value of the filter :func:`resolve` picks.

* ``"bilinear"``: 2 taps per axis (the default).
* ``"lanczos4"``: OpenCV's 8-tap Lanczos kernel, ``sinc(d) * sinc(d / 4)``
  for ``|d| < 4``, normalised to sum 1, at the source's own spacing whatever
  the scale (as ``cv2.warpAffine(..., INTER_LANCZOS4)``).
* ``"area"``: below scale 1 each output pixel is the exact average of the
  source area it covers (a box filter, as ``cv2.resize(..., INTER_AREA)``);
  at scale 1 and above it is bilinear.
* ``"auto"``: ``"area"`` below scale 1, ``"lanczos4"`` above it, bilinear at 1.
"""

FILTERS = ("bilinear", "lanczos4", "area", "auto")
#: The kernels' code of each concrete filter.
CODES = {"bilinear": 0, "lanczos4": 1, "area": 2}


def check_filter(name):
    """``name`` if it is one of :data:`FILTERS`, else a ``ValueError`` that lists them."""
    if not isinstance(name, str) or name not in FILTERS:
        raise ValueError(f"`filter=` must be one of {', '.join(map(repr, FILTERS))}; got {name!r}")
    return name


def resolve(name, scale):
    """The concrete filter ``name`` uses at ``scale``: ``"bilinear"``, ``"lanczos4"`` or ``"area"``."""
    if name == "auto":
        return "area" if scale < 1 else "lanczos4" if scale > 1 else "bilinear"
    if name == "area" and scale >= 1:
        return "bilinear"
    return name


def reach(name):
    """How far the filter ``name`` spreads an object pixel, for the placement's footprint.

    Returns ``(source_px, output_px)``: an output pixel can take a value from
    the object only if its centre lies within ``source_px`` source pixels of
    the object's bounding box *plus* ``output_px`` output pixels.  Bilinear
    reaches half a source pixel past the centres of the box's edge pixels,
    Lanczos-4 three and a half; the area filter reaches half an output pixel
    (the part of a pixel's square that overlaps the box).  ``"area"`` and
    ``"auto"`` switch filter with the scale, so they take the larger reach
    of the filters they may use, whatever the scale.
    """
    if name == "bilinear":
        return 0.5, 0.0
    if name == "lanczos4":
        return 3.5, 0.0
    if name == "area":
        return 0.5, 0.5
    return 3.5, 0.5


#: The most a Lanczos-4 warp can raise a value above the largest value within its reach:
#: the per-axis sum of the positive weights is at most 1.3573 (at some phase), squared for
#: the two axes: 1.8422, rounded up.  Bilinear and area weights are never negative: 1.
LANCZOS_LIFT = 1.85


def lift(name):
    """How far above the input's values the filter ``name`` can push an output value (a factor).

    Negative lobes let Lanczos-4 overshoot: an alpha at or below the
    threshold can come out above it, so exact mode's probe window and the
    placement's footprint start from the pixels with ``alpha > threshold /
    lift``, not only the object's.
    """
    return 1.0 if name in ("bilinear", "area") else LANCZOS_LIFT
