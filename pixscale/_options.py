"""The options of a normalization: one frozen record, checked once.

:class:`Options` is the one home of every option that :func:`pixscale.plan`,
:func:`pixscale.plan_group`, :func:`pixscale.normalize`,
:class:`pixscale.Normalizer` and :func:`pixscale.normalize_batch` take.  Each
of them accepts ``options=`` (an :class:`Options`) or the same options as
keywords, which build one (:func:`resolve`); their bodies then read the
record, so a new option is a field here, its check in ``__post_init__``, and
the command line's mapping to it.
"""

import dataclasses
import difflib
import functools
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._filters import check_filter
from ._object import ObjectMask, check_erase
from ._place import Center, check_center, check_fit, margins_px, parse_margin
from ._validate import check_background, check_bool, check_shape, check_target

_DEFAULT_MASK = ObjectMask()


@dataclasses.dataclass(frozen=True, repr=False)
class Options:
    """The options of a normalization, checked once: what to measure, the target, the placement, the warp.

    Every function of the image API that plans or normalizes takes one as
    ``options=``, or the same fields as keywords (``normalize(image,
    target=0.4)`` is ``normalize(image, options=Options(target=0.4))``).
    Frozen, hashable and picklable; :meth:`replace` makes a changed copy.

    Parameters
    ----------
    target : float, optional
        Wanted size ratio ``sqrt(object pixels / output pixels)``, in (0, 1].
        Default 0.3.
    threshold : float, optional
        The object mask is ``alpha > threshold`` (strict), on the 0-255 scale
        whatever the dtype (x257 for uint16, /255 for floats).  Default 10.
    min_component : float, optional
        Leave connected components of the mask smaller than this out of the
        object (pixels when >= 1, a fraction of the largest component below
        1), so stray specks move neither size nor centre.  Default None.
    keep : {"all", "largest"}, optional
        ``"largest"``: the object is the largest component only.  With
        ``threshold`` and ``min_component`` this is the object mask rule,
        :attr:`object_mask` (see :class:`pixscale.ObjectMask`).
    erase_specks : bool, optional
        If True, the specks the component filter drops are also erased (all
        channels 0) from the image before it is warped; by default they are
        kept in the output.  Needs ``min_component`` or ``keep="largest"``.
    center : {"centroid", "bbox", "image"} or (x, y), optional
        The source point mapped to the centre of the output canvas: the
        mask's centroid (default), the centre of its bbox, the centre of the
        input canvas, or an explicit point in continuous pixel coordinates
        (pixel centres at +0.5).
    output_shape : (int, int), optional
        (H, W) of the output canvas; default the input's.
    fit : {"shift", "shrink", "none"}, optional
        How the object is kept whole on the canvas.  ``"shift"`` (default):
        scale to the target, then move the object off centre by the smallest
        amount that keeps every sample of its mask (with the filter's
        footprint: half a source pixel around its bounding box for bilinear)
        at least ``margin`` inside the canvas; the scale shrinks only when the
        object is larger than the canvas less the margins (``limited``).
        ``"shrink"``: keep the centre on the canvas centre and shrink the
        scale until the object fits.  ``"none"``: neither; the object may be
        cut off (``cut_pixels`` counts the loss).  ``True`` and ``False``
        (pixscale 0.1) are refused, with what to write instead.
    margin : float or str, optional
        Border the fit keeps free of the object: output pixels (``12``), or a
        percentage of the canvas's width and height (``"5%"``, per side; the
        original FaceLift script's ``safe_margin=0.05`` is ``"2.5%"``).
        Default 0.
    exact : bool, optional
        If True (default), the scale is the one whose size ratio re-measured
        on the warped alpha is closest to ``target`` (within 2e-4, or one
        pixel's worth of area on images too small for that, unless the
        object's edges make that unreachable); the plan records it as
        ``achieved_ratio``.  If False, the closed form ``target /
        size_ratio`` of the original method.
    filter : {"bilinear", "lanczos4", "area", "auto"}, optional
        The resampling filter (see :func:`pixscale.warp`); exact mode
        measures the warp with it, the placement allows for its reach, and
        the plan records it.  Default ``"bilinear"``.
    premultiplied : bool, optional
        If True (default) colour is interpolated premultiplied by alpha, so
        colour hidden under alpha = 0 never bleeds into the edges and fully
        transparent output pixels have colour 0.  If False, every channel is
        interpolated independently (as OpenCV does).
    background : float, sequence of float or str, optional
        Composite the colour onto this colour, keeping alpha (see
        :func:`pixscale.warp`): numbers in the image's own scale, or text on
        the 0-255 scale (``"white"``, ``"black"``, ``"gray"``,
        ``"#rrggbb"``, ``"r,g,b"``), which is white in every dtype for
        ``"white"``.  Default None: no compositing.

    Attributes
    ----------
    object_mask : ObjectMask
        ``ObjectMask(threshold, min_component, keep)``: which pixels are the object.

    Raises
    ------
    TypeError
        For an option of the wrong type: ``target="0.3"``, ``exact="no"``
        (the bool options take True or False only).
    ValueError
        For an option out of range (``target=0``, ``threshold=255``,
        ``margin="60%"``, a margin that leaves no pixel of ``output_shape``
        free), an unknown name (``fit="squeeze"``, ``center="middle"``),
        ``fit=True`` / ``False``, or ``erase_specks`` without a component filter.

    Notes
    -----
    Values are kept as given, but for the normalized forms: ``target`` and
    ``threshold`` are floats, ``output_shape`` is a pair of ints, an (x, y)
    ``center`` and a sequence ``background`` are tuples.  The fields are
    ``dataclasses.fields(Options)``; ``Options(**mapping)`` builds one from a
    mapping of field names, :meth:`to_dict` gives JSON-ready values back.
    :func:`pixscale.plan` and :func:`pixscale.plan_group` read the fields
    that decide the plan and ignore ``erase_specks``, ``premultiplied`` and
    ``background``, which change only the output image.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> options = pixscale.Options(target=0.4, margin="5%")
    >>> options
    Options(target=0.4, margin='5%')
    >>> img = np.zeros((64, 64, 4), np.uint8); img[10:20, 30:44] = 255
    >>> out = pixscale.normalize(img, options=options)
    >>> round(pixscale.measure(out).size_ratio, 3)
    0.4
    >>> options.replace(fit="shrink").fit
    'shrink'
    """

    target: float = 0.3
    threshold: float = _DEFAULT_MASK.threshold
    min_component: float | None = _DEFAULT_MASK.min_component
    keep: str = _DEFAULT_MASK.keep
    erase_specks: bool = False
    center: Center = "centroid"
    output_shape: tuple[int, int] | None = None
    fit: str = "shift"
    margin: float | str = 0.0
    exact: bool = True
    filter: str = "bilinear"
    premultiplied: bool = True
    background: float | Sequence[float] | str | None = None

    def __post_init__(self) -> None:
        def put(name, value):
            object.__setattr__(self, name, value)

        put("target", check_target(self.target))
        rule = ObjectMask(self.threshold, self.min_component, self.keep)  # checks all three
        put("threshold", rule.threshold)
        put("erase_specks", check_erase(check_bool(self.erase_specks, name="erase_specks"), rule))
        put("center", check_center(self.center))
        if self.output_shape is not None:
            put("output_shape", check_shape(self.output_shape))
        put("fit", check_fit(self.fit))
        parse_margin(self.margin)
        if self.output_shape is not None:
            margins_px(self.margin, self.output_shape)  # the margin leaves room on the canvas
        put("exact", check_bool(self.exact, name="exact"))
        put("filter", check_filter(self.filter))
        put("premultiplied", check_bool(self.premultiplied, name="premultiplied"))
        background = check_background(self.background)
        if background is not None and not isinstance(background, (str, numbers.Real)):
            background = tuple(background)
        put("background", background)
        self.__dict__["object_mask"] = rule  # the cached_property below, filled with the rule checked here

    @functools.cached_property
    def object_mask(self) -> ObjectMask:
        """The object mask rule of these options: ``ObjectMask(threshold, min_component, keep)``."""
        return ObjectMask(self.threshold, self.min_component, self.keep)  # pragma: no cover - set on construction

    def __repr__(self) -> str:
        changed = [f"{f.name}={getattr(self, f.name)!r}" for f in _FIELDS if getattr(self, f.name) != f.default]
        return f"Options({', '.join(changed)})"

    def replace(self, **changes: Any) -> "Options":
        """A copy with some fields changed, checked as a new one is.

        Parameters
        ----------
        **changes
            Field names and their new values (``target=0.4``).

        Returns
        -------
        Options

        Raises
        ------
        TypeError, ValueError
            For an unknown field name, or a value :class:`Options` refuses.

        Examples
        --------
        >>> import pixscale
        >>> pixscale.Options(target=0.4).replace(exact=False)
        Options(target=0.4, exact=False)
        """
        _check_names(changes, "Options.replace")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every field as JSON-ready values (tuples as lists), in field order.

        Returns
        -------
        dict
            ``{name: value}`` for every field; ``Options(**d)`` gives an equal record.

        Examples
        --------
        >>> import pixscale
        >>> d = pixscale.Options(output_shape=(256, 256)).to_dict()
        >>> d["target"], d["output_shape"]
        (0.3, [256, 256])
        """
        return {f.name: _json(getattr(self, f.name)) for f in _FIELDS}


_FIELDS = dataclasses.fields(Options)
OPTION_NAMES = tuple(f.name for f in _FIELDS)
DEFAULTS = {f.name: f.default for f in _FIELDS}
#: Options that change only the output image, not the plan: plan and plan_group take no such keyword.
OUTPUT_ONLY = ("erase_specks", "premultiplied", "background")


def _json(value):
    """A field's value as JSON holds it: tuples as lists, NumPy scalars and arrays as Python numbers."""
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_json(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


def _check_names(keywords, where, refused=()):
    """A TypeError for a keyword that is not an option of ``where`` (with the nearest name, if any)."""
    for name in keywords:
        if name in refused:
            raise TypeError(
                f"{where}() takes no `{name}=`: it changes the output image, not the plan; "
                "give it to pixscale.normalize (or Normalizer, normalize_batch)"
            )
        if name not in OPTION_NAMES:
            near = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            hint = f"; did you mean `{near[0]}=`?" if near else f"; its options are {', '.join(OPTION_NAMES)}"
            raise TypeError(f"{where}() got an unexpected keyword argument {name!r}{hint}")


def resolve(options: Options | None, keywords: Mapping[str, Any], where: str, *, plan: bool = False) -> Options:
    """The :class:`Options` of a call: ``options`` itself, or one built from the keywords.

    ``where`` names the function in messages.  Giving both is a TypeError,
    whatever the values: a keyword next to ``options=`` would otherwise
    silently win or lose.  With ``plan``, the output-only options
    (:data:`OUTPUT_ONLY`) are refused as keywords.
    """
    if options is None:
        _check_names(keywords, where, OUTPUT_ONLY if plan else ())
        return Options(**keywords)
    if not isinstance(options, Options):
        raise TypeError(
            f"`options=` must be a pixscale.Options; got {type(options).__name__}. "
            "Give the options as keywords, or as `options=pixscale.Options(...)`."
        )
    if keywords:
        names = ", ".join(f"`{k}=`" for k in keywords)
        first = next(iter(keywords))
        raise TypeError(
            f"{where}() takes its options either as `options=` or as keywords, not both; got `options=` and "
            f"{names}. To change a field of an Options, pass `options=options.replace({first}=...)`."
        )
    return options
