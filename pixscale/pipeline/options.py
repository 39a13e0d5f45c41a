"""The options of a dataset run: :class:`RunOptions`, checked once on construction, and :func:`check_jobs`."""

import math
import numbers
import os
from dataclasses import asdict, dataclass, fields
from functools import cached_property

from .._filters import FILTERS, check_filter
from .._object import KEEP, ObjectMask
from .._place import FITS, check_fit, margins_px, parse_margin
from .._plan import CENTERS
from .._validate import real_number as _real

SCALE_MODES = ("per-view", "per-sample")
MAX_OUTPUT_PIXELS = 1 << 28  # 16384 x 16384
MAX_OUTPUT_SIDE = 1 << 16


class OptionError(ValueError):
    """An option value outside its accepted range; ``option`` names it (as a Python keyword)."""

    def __init__(self, option, value, accepted):
        super().__init__(f"{option}={value!r} is not accepted: {accepted}")
        self.option, self.value, self.accepted = option, value, accepted


@dataclass(frozen=True)
class RunOptions:
    """Everything that decides the bytes a run writes (recorded in the manifest and cameras).

    Every value is checked on construction; a bad one raises :class:`OptionError`.
    """

    target: float = 0.3
    threshold: float = 10.0
    center: str = "centroid"
    scale: str = "per-view"
    output_size: tuple | None = None
    margin: float | str = 0.0  # output pixels, or "N%" of the canvas
    fit: str = "shift"
    exact: bool = True
    premultiplied: bool = True
    background: tuple | None = None  # colour on the 0-255 scale
    keep_cameras: bool = False
    mask: str | None = None  # template of each view's mask file, relative to its folder ("{stem}")
    write_mask: bool = False  # with mask: write colour + mask files instead of RGBA
    pixel_center: float = 0.5
    png_level: int = 6
    filter: str = "bilinear"
    min_component: float | None = None  # pixels (>= 1) or a fraction of the largest component
    keep: str = "all"
    erase_specks: bool = False

    def __post_init__(self):
        if not (_real(self.target) and 0 < self.target <= 1):
            raise OptionError("target", self.target, "a size ratio in (0, 1], e.g. 0.3 for 30%")
        if self.target * self.target * MAX_OUTPUT_PIXELS < 1:  # below one pixel on any canvas: a blank output
            raise OptionError(
                "target",
                self.target,
                f"a size ratio of at least {1 / math.sqrt(MAX_OUTPUT_PIXELS):.3g}: a smaller object is less than "
                "one pixel on any canvas up to 16384x16384, so every output would be blank",
            )
        if not (_real(self.threshold) and 0 <= self.threshold < 255):  # no alpha exceeds 255: nothing selected
            raise OptionError(
                "threshold",
                self.threshold,
                "an alpha value on the 0-255 scale, from 0 up to (not including) 255: the object is alpha > "
                "threshold, so 255 or more selects no pixel (254 keeps only fully opaque 8-bit pixels)",
            )
        if self.center not in CENTERS:
            raise OptionError("center", self.center, f"one of {', '.join(CENTERS)}")
        if self.scale not in SCALE_MODES:
            raise OptionError("scale", self.scale, f"one of {', '.join(SCALE_MODES)}")
        if self.output_size is not None:
            size = tuple(self.output_size)
            if not (
                len(size) == 2
                and all(isinstance(v, int) and 0 < v <= MAX_OUTPUT_SIDE for v in size)
                and size[0] * size[1] <= MAX_OUTPUT_PIXELS
            ):
                raise OptionError(
                    "output_size",
                    self.output_size,
                    f"H x W with each side 1 to {MAX_OUTPUT_SIDE} and at most "
                    f"{MAX_OUTPUT_PIXELS:,} pixels (16384x16384)",
                )
            object.__setattr__(self, "output_size", size)
        if self.pixel_center not in (0, 0.5):
            raise OptionError("pixel_center", self.pixel_center, "0 (OpenCV) or 0.5 (pixel centres at +0.5)")
        for key in ("target", "threshold", "pixel_center"):  # 10 and 10.0 must write the same bytes
            object.__setattr__(self, key, float(getattr(self, key)))
        try:
            object.__setattr__(self, "fit", check_fit(self.fit))
        except ValueError:
            raise OptionError("fit", self.fit, f"one of {', '.join(FITS)}") from None
        try:
            value, percent = parse_margin(self.margin)
        except ValueError:
            raise OptionError("margin", self.margin, "output pixels >= 0, or a percentage below 50% ('5%')") from None
        if not percent:
            object.__setattr__(self, "margin", value)
        if self.output_size is not None:
            try:
                margins_px(self.margin, self.output_size)
            except ValueError:
                n = min(self.output_size)
                most = (n - 1) // 2 + 0.5  # leaves one output pixel free on the shorter side
                raise OptionError(
                    "margin",
                    self.margin,
                    f"at most {most:g} pixels or {math.floor(1e4 * most / n) / 100:g}% on the "
                    f"{self.output_size[0]}x{self.output_size[1]} output, so the object has a pixel of room",
                ) from None
        if self.background is not None:
            bg = tuple(self.background)
            if not (len(bg) == 3 and all(_real(v) and 0 <= v <= 255 for v in bg)):
                raise OptionError("background", self.background, "three colour values on the 0-255 scale")
            object.__setattr__(self, "background", bg)
        if self.mask is not None and not (
            isinstance(self.mask, str) and self.mask.strip() and not os.path.isabs(self.mask) and "\0" not in self.mask
        ):
            raise OptionError("mask", self.mask, "a path relative to each image's folder, e.g. '../masks/{stem}.png'")
        if self.write_mask and self.mask is None:
            raise OptionError("write_mask", self.write_mask, "only with `mask=` (it writes the mask files)")
        if not (isinstance(self.png_level, int) and 0 <= self.png_level <= 9):
            raise OptionError("png_level", self.png_level, "0 (fastest) to 9 (smallest)")
        try:
            check_filter(self.filter)
        except ValueError:
            raise OptionError("filter", self.filter, f"one of {', '.join(FILTERS)}") from None
        mc = self.min_component
        try:
            if isinstance(mc, numbers.Real) and not isinstance(mc, bool):  # 200 and 200.0 write the same bytes
                object.__setattr__(self, "min_component", float(mc))
            self.object_mask  # noqa: B018 - built here, once, from the checked values
        except (TypeError, ValueError, OverflowError):
            if self.keep not in KEEP:
                raise OptionError("keep", self.keep, f"one of {', '.join(KEEP)}") from None
            raise OptionError(
                "min_component",
                mc,
                "a number of pixels (>= 1, e.g. 200) or a fraction of the largest component (below 1, e.g. 0.05)",
            ) from None
        if self.erase_specks and not self.object_mask.filters:
            raise OptionError(
                "erase_specks",
                self.erase_specks,
                'only with `min_component=` or `keep="largest"` (they name the specks)',
            )
        object.__setattr__(self, "erase_specks", bool(self.erase_specks))

    @cached_property
    def object_mask(self) -> ObjectMask:
        """The :class:`~pixscale.ObjectMask` of these options: built once, as they are checked.

        Every view of a run is measured with it (it travels to the workers
        with the options), and the report's island probe reads it.
        """
        return ObjectMask(self.threshold, self.min_component, self.keep)

    def params(self):
        """The options as JSON-ready values."""
        d = asdict(self)
        for key in ("output_size", "background"):
            d[key] = None if d[key] is None else list(d[key])
        return d


def check_jobs(jobs):
    """``jobs`` as a positive int (default: all cores), or OptionError."""
    if jobs is None:
        return os.cpu_count() or 1
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise OptionError("jobs", jobs, "a number of workers >= 1 (default: all cores)")
    return jobs


OPTION_NAMES = tuple(f.name for f in fields(RunOptions))
