"""The options of a dataset run: :class:`RunOptions`, checked once on construction, and :func:`check_jobs`.

A run's options are the image API's :class:`~pixscale.Options` (what to
measure, the target, the placement, the filter), held whole as
:attr:`RunOptions.image` and handed as they are to the planner,
plus the few that only a run has (per-sample scale, cameras, mask files, PNG
level).  An option added to :class:`~pixscale.Options` is a run option too:
:class:`RunOptions` takes it as a keyword, records it in the manifest and
resumes only with the same value, without an edit here.
"""

import dataclasses
import math
import os

from .._filters import FILTERS, check_filter
from .._object import KEEP
from .._options import Options
from .._place import CENTERS, FITS, check_fit, margins_px, parse_margin
from .._validate import real_number as _real

SCALE_MODES = ("per-view", "per-sample")
MAX_OUTPUT_PIXELS = 1 << 28  # 16384 x 16384
MAX_OUTPUT_SIDE = 1 << 16
# The options only a run has: its fields besides ``image``. ``background`` is the run's own: a colour on the
# 0-255 scale for its PNG views, whatever their bit depth (Options.background is in the image's own scale).
RUN_ONLY = ("scale", "background", "keep_cameras", "mask", "write_mask", "pixel_center", "png_level")
ALIASES = {"output_size": "output_shape"}  # a run's name for an Options field, where the two differ
# The Options fields a run takes, by the run's name.
LIBRARY = {
    next((a for a, f in ALIASES.items() if f == field.name), field.name): field.name
    for field in dataclasses.fields(Options)
    if field.name not in RUN_ONLY
}
# Every run option, in the order the manifest, the cameras and the report record them (pixscale 0.1's);
# Options fields added since follow in their own order.
RECORDED = (
    "target",
    "threshold",
    "center",
    "scale",
    "output_size",
    "margin",
    "fit",
    "exact",
    "premultiplied",
    "background",
    "keep_cameras",
    "mask",
    "write_mask",
    "pixel_center",
    "png_level",
    "filter",
    "min_component",
    "keep",
    "erase_specks",
)
OPTION_NAMES = RECORDED + tuple(name for name in LIBRARY if name not in RECORDED)


class OptionError(ValueError):
    """An option value outside its accepted range; ``option`` names it (as a Python keyword)."""

    def __init__(self, option, value, accepted):
        super().__init__(f"{option}={value!r} is not accepted: {accepted}")
        self.option, self.value, self.accepted = option, value, accepted


@dataclasses.dataclass(frozen=True, init=False)
class RunOptions:
    """Everything that decides the bytes a run writes (recorded in the manifest and cameras).

    ``RunOptions(target=0.4, scale="per-sample")`` takes every option by
    name: those of :class:`~pixscale.Options` (``output_size`` is its
    ``output_shape``) and the run's own (:data:`RUN_ONLY`); or
    ``RunOptions(image=Options(...), scale=...)``.  Every value is checked
    on construction; a bad one raises :class:`OptionError` (a ``TypeError``
    or ``ValueError`` of :class:`~pixscale.Options` for what only it checks).
    The image options read as attributes too (``options.target``).
    """

    image: Options  # the image API's options, as plan_group takes them
    scale: str = "per-view"
    background: tuple | None = None  # colour on the 0-255 scale
    keep_cameras: bool = False
    mask: str | None = None  # template of each view's mask file, relative to its folder ("{stem}")
    write_mask: bool = False  # with mask: write colour + mask files instead of RGBA
    pixel_center: float = 0.5
    png_level: int = 6

    def __init__(self, image=None, **options):
        unknown = [name for name in options if name not in OPTION_NAMES]
        if unknown:
            raise TypeError(f"RunOptions() got an unexpected keyword argument {unknown[0]!r}")
        given = {name: value for name, value in options.items() if name in LIBRARY}
        if image is not None:
            if not isinstance(image, Options) or given:
                raise TypeError("RunOptions() takes image=pixscale.Options(...) or its options as keywords, not both")
            if image.background is not None:
                raise TypeError(
                    "a run's background is its own option, a colour on the 0-255 scale for its PNG views: give "
                    f"RunOptions(background=...) and leave `background=` out of image=; got {image.background!r}"
                )
            given = {name: getattr(image, field) for name, field in LIBRARY.items()}
        own = {f.name: options.get(f.name, f.default) for f in dataclasses.fields(self) if f.name != "image"}
        library = {LIBRARY[name]: value for name, value in _checked(given, own).items()}
        try:
            checked = Options(**library)
        except (TypeError, ValueError) as exc:
            raise _option_error(given, exc) from None
        object.__setattr__(self, "image", checked)
        for name, value in own.items():
            object.__setattr__(self, name, value)

    def __getattr__(self, name):  # the image options by a run's name: options.target, options.output_size
        image = self.__dict__.get("image")
        if image is None or name not in LIBRARY and name != "object_mask":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(image, LIBRARY.get(name, name))

    def params(self):
        """The options as JSON-ready values, in :data:`OPTION_NAMES` order (the manifest's record of them)."""
        image = self.image.to_dict()
        values = {name: image[field] for name, field in LIBRARY.items()}
        for f in dataclasses.fields(self):
            if f.name != "image":
                values[f.name] = getattr(self, f.name)
        values["background"] = None if self.background is None else list(self.background)
        return {name: values[name] for name in OPTION_NAMES}


def _checked(given, own):
    """The run's checks of its options (:class:`OptionError`, worded for a run); returns the image options.

    ``own`` (the run-only options) is normalized in place; the image options
    are returned normalized where a run records them so (10 and 10.0 write
    the same bytes), the rest as given, for :class:`~pixscale.Options`.
    """
    out = dict(given)
    target = given.get("target", 0.3)
    if not (_real(target) and 0 < target <= 1):
        raise OptionError("target", target, "a size ratio in (0, 1], e.g. 0.3 for 30%")
    if target * target * MAX_OUTPUT_PIXELS < 1:  # below one pixel on any canvas: a blank output
        raise OptionError(
            "target",
            target,
            f"a size ratio of at least {1 / math.sqrt(MAX_OUTPUT_PIXELS):.3g}: a smaller object is less than "
            "one pixel on any canvas up to 16384x16384, so every output would be blank",
        )
    threshold = given.get("threshold", 10.0)
    if not (_real(threshold) and 0 <= threshold < 255):  # no alpha exceeds 255: nothing selected
        raise OptionError(
            "threshold",
            threshold,
            "an alpha value on the 0-255 scale, from 0 up to (not including) 255: the object is alpha > "
            "threshold, so 255 or more selects no pixel (254 keeps only fully opaque 8-bit pixels)",
        )
    center = given.get("center", "centroid")
    if not isinstance(center, str) or center not in CENTERS:
        raise OptionError("center", center, f"one of {', '.join(CENTERS)}")
    if own["scale"] not in SCALE_MODES:
        raise OptionError("scale", own["scale"], f"one of {', '.join(SCALE_MODES)}")
    size = given.get("output_size")
    if size is not None:
        size = tuple(size)
        if not (
            len(size) == 2
            and all(isinstance(v, int) and 0 < v <= MAX_OUTPUT_SIDE for v in size)
            and size[0] * size[1] <= MAX_OUTPUT_PIXELS
        ):
            raise OptionError(
                "output_size",
                given["output_size"],
                f"H x W with each side 1 to {MAX_OUTPUT_SIDE} and at most {MAX_OUTPUT_PIXELS:,} pixels (16384x16384)",
            )
        out["output_size"] = size
    if own["pixel_center"] not in (0, 0.5):
        raise OptionError("pixel_center", own["pixel_center"], "0 (OpenCV) or 0.5 (pixel centres at +0.5)")
    own["pixel_center"] = float(own["pixel_center"])
    out["target"], out["threshold"] = float(target), float(threshold)
    fit = given.get("fit", "shift")
    try:
        check_fit(fit)
    except ValueError:
        raise OptionError("fit", fit, f"one of {', '.join(FITS)}") from None
    margin = given.get("margin", 0.0)
    try:
        value, percent = parse_margin(margin)
    except ValueError:
        raise OptionError("margin", margin, "output pixels >= 0, or a percentage below 50% ('5%')") from None
    if not percent:
        out["margin"] = margin = value
    if size is not None:
        try:
            margins_px(margin, size)
        except ValueError:
            n = min(size)
            most = (n - 1) // 2 + 0.5  # leaves one output pixel free on the shorter side
            raise OptionError(
                "margin",
                margin,
                f"at most {most:g} pixels or {math.floor(1e4 * most / n) / 100:g}% on the "
                f"{size[0]}x{size[1]} output, so the object has a pixel of room",
            ) from None
    if own["background"] is not None:
        bg = tuple(own["background"])
        if not (len(bg) == 3 and all(_real(v) and 0 <= v <= 255 for v in bg)):
            raise OptionError("background", own["background"], "three colour values on the 0-255 scale")
        own["background"] = bg
    mask = own["mask"]
    if mask is not None and not (
        isinstance(mask, str) and mask.strip() and not os.path.isabs(mask) and "\0" not in mask
    ):
        raise OptionError("mask", mask, "a path relative to each image's folder, e.g. '../masks/{stem}.png'")
    if own["write_mask"] and mask is None:
        raise OptionError("write_mask", own["write_mask"], "only with `mask=` (it writes the mask files)")
    if not (isinstance(own["png_level"], int) and 0 <= own["png_level"] <= 9):
        raise OptionError("png_level", own["png_level"], "0 (fastest) to 9 (smallest)")
    filter = given.get("filter", "bilinear")
    try:
        check_filter(filter)
    except ValueError:
        raise OptionError("filter", filter, f"one of {', '.join(FILTERS)}") from None
    mc = given.get("min_component")
    if _real(mc):  # 200 and 200.0 write the same bytes
        out["min_component"] = float(mc)
    return out


def _option_error(given, exc):
    """What :class:`~pixscale.Options` refused, as the run words it: an OptionError where the run names the option."""
    keep, mc = given.get("keep", "all"), given.get("min_component")
    if keep not in KEEP:
        return OptionError("keep", keep, f"one of {', '.join(KEEP)}")
    if str(exc).startswith("`min_component=`"):
        return OptionError(
            "min_component",
            mc,
            "a number of pixels (>= 1, e.g. 200) or a fraction of the largest component (below 1, e.g. 0.05)",
        )
    if str(exc).startswith("`erase_specks=True`"):
        return OptionError(
            "erase_specks", True, 'only with `min_component=` or `keep="largest"` (they name the specks)'
        )
    return exc


def check_jobs(jobs):
    """``jobs`` as a positive int (default: all cores), or OptionError."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise OptionError("jobs", jobs, "a number of workers >= 1 (default: all cores)")
    return jobs
