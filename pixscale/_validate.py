"""Input validators shared by the public API and the NumPy reference.

Each validator checks one thing once and raises an error that names what it
received and how to fix it: ``TypeError`` for a dtype, ``ValueError`` for a
shape, range or content.
"""

import math
import numbers

import numpy as np


def finite(value):
    """``math.isfinite(value)``, but False for an integer too large for a float (a 400-digit literal)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def as_float(value):
    """``float(value)``, but an integer too large for a float is +-inf (refused by a range check) not OverflowError."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def real_number(value):
    """True for a finite int or float that is no bool: the one check of a number option or JSON value."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and finite(value)


MAX_PIXELS = 2**28
"""The most pixels (height x width) pixscale allocates for one image (16384 x 16384): an output
canvas larger than this is refused, and so is a file whose header declares more (the readers
of :mod:`pixscale.pipeline.io`)."""

SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
_DTYPE_NAMES = "uint8, uint16, float32 or float64"


class EmptyMaskError(ValueError):
    """Raised when no pixel's alpha exceeds the threshold, so there is nothing to scale.

    A ``ValueError``, so code that catches bad input in general catches it too.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> try:
    ...     pixscale.plan(np.zeros((8, 8), np.uint8))
    ... except pixscale.EmptyMaskError as exc:
    ...     print(str(exc)[:34])
    no pixel has alpha > 10 (on the 0-
    """


class VanishedObjectError(EmptyMaskError):
    """Raised when the planned scale leaves no pixel of the object above the threshold in the output.

    The object was found, but so small a scale (a tiny ``target``, or a
    ``margin`` that leaves the object almost no room) shrinks it to nothing:
    the output would be blank.  ``views`` lists the indices of the views of
    the group that vanish, ``transforms`` the plan of the whole group (for a
    caller that writes the other views).  An :class:`EmptyMaskError`, so code
    that skips views without an object skips these too.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> alpha = np.zeros((64, 64), np.uint8)
    >>> alpha[24:40, 24:40] = 255
    >>> try:
    ...     pixscale.plan(alpha, target=0.001)  # 0.1% of a 64-px side is less than a pixel
    ... except pixscale.VanishedObjectError as exc:
    ...     print(str(exc)[:40], exc.views)
    the object would vanish from the output: [0]
    """

    def __init__(self, message, views=(), transforms=()):
        super().__init__(message)
        self.views, self.transforms = list(views), list(transforms)


def check_array(image, *, name="image", channels=(1, 2, 3, 4)):
    """Return ``image`` as an ndarray after checking its dtype, shape and values.

    Accepts (H, W) or (H, W, C) with C in ``channels``.  Float images must be
    finite.  Any strides are accepted; nothing is copied, except that an
    array in non-native byte order is converted to native order.
    """
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except Exception as exc:  # pragma: no cover - exotic array-likes
            raise TypeError(f"{name} must be a NumPy array; got {type(image).__name__}") from exc
    if image.dtype.type not in SUPPORTED_DTYPES:
        raise TypeError(
            f"{name} has dtype {image.dtype}; pixscale accepts {_DTYPE_NAMES}. "
            f"Convert first, e.g. image.astype(np.float32) / 255 for 0-255 data in another type."
        )
    if image.ndim == 2:
        nc = 1
    elif image.ndim == 3:
        nc = image.shape[2]
    else:
        nc = None
    if nc is None or nc not in channels:
        allowed = ", ".join(f"(H, W, {c})" for c in channels if c > 1)
        raise ValueError(
            f"{name} must have shape (H, W) or {allowed}; got shape {image.shape}. "
            "RGBA images are (H, W, 4) with alpha last; pass a single alpha mask as (H, W)."
        )
    if not image.dtype.isnative:  # e.g. big-endian data read from a file: the kernels need native order
        image = image.astype(image.dtype.newbyteorder("="))
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {image.shape}); it needs at least one pixel.")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; replace them first, "
            "e.g. np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0)."
        )
    return image


def check_float_range(image, *, name="image"):
    """Return ``image``; a float image must hold values in [0, 1], colour and alpha alike.

    That is the range of pixscale's float images (float alpha, a float
    ``background``'s white 1.0, the threshold /255), and the range every
    filter's float output is clipped to; colour outside it (HDR data) is
    refused rather than clipped by some filters and kept by others.
    """
    if image.dtype.kind == "f" and image.size:
        lo, hi = float(image.min()), float(image.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"a float {name} must hold values in [0, 1] (colour and alpha); got values from {lo:g} to "
                f"{hi:g}. Scale it first (e.g. divide HDR colour by its maximum, or 0-255 data by 255), "
                "or pass 0-255 data as uint8."
            )
    return image


def alpha_of(image, *, name="image"):
    """Return the (H, W) alpha view of an RGBA, gray+alpha or alpha-only image."""
    image = check_array(image, name=name, channels=(1, 2, 4))
    if image.ndim == 3 and image.shape[2] == 1:
        alpha = image[:, :, 0]
    else:
        alpha = image if image.ndim == 2 else image[:, :, -1]
    if alpha.dtype.kind == "f":
        lo, hi = float(alpha.min()), float(alpha.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"float alpha must lie in [0, 1]; got values from {lo:g} to {hi:g}. "
                "Divide 0-255 data by 255, or pass it as uint8."
            )
    return alpha


def with_mask(image, mask, *, name="image", mask_name="`mask=`"):
    """An RGB (or gray) image and its separate object mask as one image whose alpha is the mask.

    ``image`` is (H, W, 3) or (H, W) / (H, W, 1) of a supported dtype;
    ``mask`` is (H, W) (or (H, W, 1)): bool, integers 0-255 (an integer mask
    whose values are only 0 and 1 is read as a binary mask), or floats in
    [0, 1].  Returns (H, W, 4) or (H, W, 2) in ``image``'s dtype, the mask
    rescaled to its alpha range (x257 for uint16).  Messages call the mask
    ``mask_name`` (the pipeline's is a file, not the ``mask=`` option).
    """
    image = check_array(image, name=name, channels=(1, 3))
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.shape != image.shape[:2]:
        raise ValueError(
            f"{mask_name} has shape {m.shape}; it must be (H, W) = {image.shape[:2]}, the image's height and width"
        )
    lo, hi, finite = 0, 0, True
    if m.dtype.kind in "uif" and m.size:
        finite = m.dtype.kind != "f" or bool(np.isfinite(m).all())
        if finite:
            lo, hi = m.min().item(), m.max().item()
    alpha = m * mask_factor(m.dtype, lo, hi, finite, image.dtype, mask_name)
    if image.dtype.kind != "f":
        alpha = np.floor(alpha + 0.5)
    gray = image if image.ndim == 3 else image[:, :, None]
    return np.concatenate([gray, alpha.astype(image.dtype)[:, :, None]], axis=2)


def mask_factor(dtype, lo, hi, finite, image_dtype, mask_name="`mask=`"):
    """What :func:`with_mask` multiplies a mask of ``dtype`` by: the alpha scale of ``image_dtype``, or 1/255 of it.

    ``lo`` and ``hi`` are the mask's lowest and highest values (0, 0 when
    empty), ``finite`` False when a float mask holds NaN or infinity (its
    range is then not read).  An integer mask holding only 0 and 1 is binary;
    other integers are 0-255.  Raises ``ValueError`` for values out of range,
    ``TypeError`` for another dtype.  (The GPU path measures the range on the
    device and asks here.)
    """
    dtype, image_dtype = np.dtype(dtype), np.dtype(image_dtype)
    top = 1.0 if image_dtype.kind == "f" else float(np.iinfo(image_dtype).max)
    if dtype.kind == "b":
        return top
    if dtype.kind in "ui":
        if lo < 0 or hi > 255:
            raise ValueError(
                f"{mask_name} holds integers from {lo} to {hi}; an integer mask must hold 0-255 (or 0 and 1)"
            )
        return top if hi <= 1 else top / 255
    if dtype.kind == "f":
        if not finite or lo < 0 or hi > 1:
            raise ValueError(f"{mask_name} holds floats outside [0, 1] or not finite; divide 0-255 data by 255")
        return top
    raise TypeError(f"{mask_name} has dtype {dtype}; give a bool, 0-255 integer or 0-1 float array")


def check_threshold(threshold):
    """Return ``threshold`` as a float in [0, 255) (the 0-255 alpha scale).

    The object is ``alpha > threshold`` and no alpha exceeds 255, so 255 (or
    more) could never select a pixel: it is refused like any value out of range.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"`threshold=` must be a number on the 0-255 scale; got {threshold!r}")
    threshold = as_float(threshold)
    if threshold == 255:
        raise ValueError(
            "`threshold=255` selects no pixel: the object is alpha > threshold, and no alpha exceeds 255; "
            "give a value below 255 (254 keeps only fully opaque 8-bit pixels)."
        )
    if not 0 <= threshold < 255:
        raise ValueError(
            f"`threshold=` is on the 0-255 alpha scale and must lie in [0, 255); got {threshold:g}. "
            "For float alpha in [0, 1] still give it on the 0-255 scale (10, not 0.04)."
        )
    return threshold


def threshold_value(dtype, threshold):
    """The threshold of ``check_threshold`` in the units of an alpha of ``dtype``.

    The mask is ``alpha > value``: x257 for uint16, /255 for floats in [0, 1];
    for integer alpha the value is floored, which keeps ``alpha > threshold``
    exact for fractional thresholds.
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return np.uint8(math.floor(threshold))
    if dtype == np.uint16:
        return np.uint16(math.floor(threshold * 257))
    return dtype.type(threshold / 255)


NAMED_COLOURS = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}


def parse_colour(text):
    """Parse a colour given as text into three floats on the 0-255 scale, or None.

    Accepts a name (``"white"``, ``"black"``, ``"gray"``/``"grey"``),
    ``"#rrggbb"``, or ``"r,g,b"`` with values in [0, 255]; ``"none"`` and
    ``"transparent"`` give None (no background).  Case and surrounding spaces
    are ignored.  Raises ``ValueError`` for anything else.

    Examples
    --------
    >>> parse_colour("white"), parse_colour("#ff8000"), parse_colour("0, 64.5, 255")
    ((255.0, 255.0, 255.0), (255.0, 128.0, 0.0), (0.0, 64.5, 255.0))
    >>> parse_colour("transparent") is None
    True
    """
    if not isinstance(text, str):
        raise TypeError(f"a colour must be given as text; got {text!r}")
    t = text.strip().lower()
    if t in ("none", "transparent"):
        return None
    if t in NAMED_COLOURS:
        return tuple(float(v) for v in NAMED_COLOURS[t])
    try:
        if t.startswith("#") and len(t) == 7:
            return tuple(float(int(t[i : i + 2], 16)) for i in (1, 3, 5))
        parts = tuple(float(v) for v in t.split(","))
        if len(parts) == 3 and all(0 <= v <= 255 for v in parts):
            return parts
    except ValueError:
        pass
    raise ValueError(
        f"unknown colour {text!r}: use transparent, white, black, gray, #rrggbb or r,g,b with 0-255 values"
    )


def check_bool(value, *, name):
    """Return ``value`` if it is a real bool (``True``/``False``, NumPy's too); a string or number is a TypeError."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"`{name}=` must be True or False; got {value!r}")


def check_background(background):
    """Return ``background`` after checking what can be checked without an image's dtype.

    None, a colour name or text (see :func:`parse_colour`), one number or a
    sequence of 1 or 3 numbers, finite and >= 0 (their upper bound, 255,
    65535 or 1.0, depends on the image and is checked with it).
    """
    if background is None:
        return None
    if isinstance(background, str):
        parse_colour(background)
        return background
    values = [background] if isinstance(background, numbers.Real) else background
    try:
        values = list(values)
    except TypeError:
        values = None
    bad = (
        values is None
        or len(values) not in (1, 3)
        or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in values)
    )
    if bad:
        raise TypeError(
            "`background=` must be None, a colour ('white', '#rrggbb', 'r,g,b'), one number or three numbers "
            f"in the image's own scale; got {background!r}"
        )
    assert values is not None  # not bad
    if not all(math.isfinite(float(v)) and float(v) >= 0 for v in values):
        raise ValueError(f"`background=` values must be finite and >= 0; got {background!r}")
    return background


def check_target(target):
    """Return ``target`` (the wanted size ratio) as a float in (0, 1]."""
    if isinstance(target, bool) or not isinstance(target, numbers.Real):
        raise TypeError(f"`target=` must be a number in (0, 1]; got {target!r}")
    target = as_float(target)
    if not 0 < target <= 1:
        raise ValueError(
            f"`target=` is a size ratio sqrt(object area / image area) and must lie in (0, 1]; "
            f"got {target!r}. The original method uses 0.3."
        )
    return target


def check_scale(scale):
    """Return ``scale`` as a positive finite float."""
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        raise TypeError(f"`scale=` must be a positive number; got {scale!r}") from None
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"`scale=` must be positive and finite; got {scale!r}")
    return scale


def check_shape(shape, *, name="output_shape", limit=True):
    """Return ``shape`` as a pair of positive ints (H, W).

    With ``limit`` (a canvas pixscale will allocate), ``H * W`` may not exceed
    :data:`MAX_PIXELS`, the most pixels a view may have: a larger canvas is
    refused here rather than failing in the allocation.
    """
    try:
        h, w = (int(v) for v in shape)
        ok = all(float(v) == int(v) for v in shape)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"`{name}=` must be a pair of ints (H, W); got {shape!r}") from None
    if not ok or h <= 0 or w <= 0:
        raise ValueError(f"`{name}=` must be two positive ints (H, W); got {shape!r}")
    if limit and h * w > MAX_PIXELS:
        side = math.isqrt(MAX_PIXELS)
        raise ValueError(
            f"`{name}={(h, w)}` has {h * w:,} pixels, more than pixscale's limit of {MAX_PIXELS:,} "
            f"({side}x{side}, pixscale._validate.MAX_PIXELS); give a smaller canvas"
        )
    return (h, w)


def check_point(point, *, name):
    """Return ``point`` as a finite (x, y) pair of floats."""
    try:
        x, y = (float(v) for v in point)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}=` must be an (x, y) pair of numbers; got {point!r}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"`{name}=` must be finite; got {point!r}")
    return (x, y)
