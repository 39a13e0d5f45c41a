"""Measuring the object: count, size ratio, centroid and bounding box of the mask."""

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._device import gpu, on_device
from ._object import ObjectMask, Selection
from ._validate import alpha_of, threshold_value, with_mask
from .kernels import kernels


@dataclass(frozen=True)
class Measurement:
    """What one pass over the alpha channel learns about the object.

    The object mask is ``alpha > threshold``.  Coordinates are continuous
    pixel coordinates (x, y): pixel (row i, column j) covers
    ``[j, j+1) x [i, i+1)`` and its centre is ``(j + 0.5, i + 0.5)``.

    Attributes
    ----------
    count : int
        Number of mask pixels.
    centroid : (float, float) or None
        Mean of the mask pixels' centres, (x, y); None when the mask is empty.
    bbox : (int, int, int, int) or None
        ``(x0, y0, x1, y1)``: half-open pixel index ranges ``x0 <= j < x1``,
        ``y0 <= i < y1`` of the mask; None when the mask is empty.  As a
        continuous box it is exactly ``[x0, x1] x [y0, y1]``.
    shape : (int, int)
        (H, W) of the measured image.
    area_fraction : float
        ``count / (H * W)``.
    size_ratio : float
        ``sqrt(area_fraction)``: the object's linear size relative to the image.
    dropped_components, dropped_pixels : int
        Islands of the thresholded mask the component filter left out of the
        object (``min_component``, ``keep``), and their pixels; 0 without one.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> alpha = np.zeros((10, 20), np.uint8); alpha[2:6, 4:12] = 255
    >>> m = pixscale.measure(alpha)
    >>> m.count, m.bbox, round(m.size_ratio, 4)
    (32, (4, 2, 12, 6), 0.4)
    """

    count: int
    centroid: tuple | None
    bbox: tuple | None
    shape: tuple
    dropped_components: int = 0
    dropped_pixels: int = 0

    @property
    def area_fraction(self) -> float:
        return self.count / (self.shape[0] * self.shape[1])

    @property
    def size_ratio(self) -> float:
        return math.sqrt(self.area_fraction)

    @property
    def empty(self) -> bool:
        """True when no pixel exceeds the threshold."""
        return self.count == 0

    def to_dict(self) -> dict[str, Any]:
        """The measurement as plain JSON-ready Python values, derived ones included.

        Returns
        -------
        dict
            ``count``, ``area_fraction``, ``size_ratio``, ``centroid``,
            ``bbox``, ``shape``, ``dropped_components`` and
            ``dropped_pixels``; tuples as lists.

        Examples
        --------
        >>> import numpy as np, pixscale
        >>> alpha = np.zeros((4, 4), np.uint8); alpha[1:3, 1:3] = 255
        >>> pixscale.measure(alpha).to_dict()["centroid"]
        [2.0, 2.0]
        """
        return {
            "count": self.count,
            "area_fraction": self.area_fraction,
            "size_ratio": self.size_ratio,
            "centroid": None if self.centroid is None else list(self.centroid),
            "bbox": None if self.bbox is None else list(self.bbox),
            "shape": list(self.shape),
            "dropped_components": self.dropped_components,
            "dropped_pixels": self.dropped_pixels,
        }

    @classmethod
    def from_sums(cls, count, sum_x, sum_y, bbox, shape, dropped=(0, 0)):
        """Build a measurement from the mask's count, index sums and box (the kernel's output)."""
        count = int(count)
        shape = (int(shape[0]), int(shape[1]))
        if count == 0:
            return cls(0, None, None, shape, *dropped)
        centroid = (int(sum_x) / count + 0.5, int(sum_y) / count + 0.5)
        # The fields set directly, as the frozen dataclass's __init__ would (six object.__setattr__
        # calls cost a microsecond of Python a view, GIL held, in every thread of normalize_batch).
        m = object.__new__(cls)
        vars(m).update(
            count=count,
            centroid=centroid,
            bbox=tuple(map(int, bbox)),
            shape=shape,
            dropped_components=dropped[0],
            dropped_pixels=dropped[1],
        )
        return m


def alpha_words(image):
    """The (H, W) uint32 view of an RGBA8 image whose pixels are 4 contiguous bytes, else None.

    On little-endian machines alpha is then the top byte of each word, which
    lets the measure kernel read whole pixels.
    """
    if (
        sys.byteorder == "little"
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 4
        and image.strides[2] == 1
        and image.strides[1] == 4
    ):
        return image.view("<u4")[:, :, 0]
    return None


def measure_alpha(alpha, thr, words=None, unpacked=None, dropped=(0, 0)):
    """Measure a validated (H, W) alpha view against a threshold in its own units.

    ``words`` (from :func:`alpha_words` of the image ``alpha`` belongs to)
    selects the faster whole-pixel kernel; the result is the same.  A
    C-contiguous (H, W) array ``unpacked`` of ``alpha``'s dtype also receives
    a copy of the alpha channel, in the same pass.  ``dropped`` is recorded
    as the measurement's ``(dropped_components, dropped_pixels)``.
    """
    stats = np.empty(7, dtype=np.int64)
    if words is not None:
        kernels().measure_words(words, np.uint32(thr), stats, unpacked)
    elif unpacked is not None:
        kernels().measure_alpha(alpha, thr, stats, unpacked)
    else:  # the argument left out, not None: numba would compile a second signature for None
        kernels().measure_alpha(alpha, thr, stats)
    count, sum_x, sum_y, *bbox = stats.tolist()  # Python ints in one call, not seven NumPy scalars
    return Measurement.from_sums(count, sum_x, sum_y, bbox, alpha.shape, dropped)


def measure_object(image, alpha, rule, *, unpack=False):
    """Measure the object ``rule`` (an :class:`ObjectMask`) finds in a validated alpha of ``image``.

    Returns ``(measurement, selection)``; ``selection.alpha`` is the
    object's alpha.  When the component filter drops nothing (or there is
    none) the fused whole-pixel kernel reads RGBA8 images directly.  With
    ``unpack``, ``selection.alpha`` is C-contiguous (exact mode's probe reads
    it): an alpha channel of an image with channels is copied in the
    measure's pass, so the probe runs on the same array type as the warp
    (one compiled kernel, not a second one for strided arrays).
    """
    thr = threshold_value(alpha.dtype, rule.threshold)
    if rule.filters:
        sel = rule.select(alpha)
        if sel.dropped is not None:
            return measure_alpha(sel.alpha, thr, dropped=(sel.components, sel.pixels)), sel
    words = alpha_words(np.asarray(image))
    unpacked = np.empty(alpha.shape, alpha.dtype) if unpack and not alpha.flags.c_contiguous else None
    m = measure_alpha(alpha, thr, words, unpacked)
    return m, Selection(alpha if unpacked is None else unpacked, None, 0, 0)


def measure(
    image: ArrayLike,
    *,
    threshold: float = 10,
    min_component: float | None = None,
    keep: str = "all",
    mask: ArrayLike | None = None,
) -> Measurement:
    """Measure the object in an image: pixel count, size ratio, centroid and bbox.

    Parameters
    ----------
    image : (H, W, 4), (H, W, 2) or (H, W) ndarray
        RGBA, gray+alpha, or alpha alone; uint8, uint16, float32 or float64
        (floats in [0, 1]); any strides.  On a CUDA device (a CuPy array, a
        torch CUDA tensor, a Numba device array; uint8, uint16 or float32) it
        is measured on the GPU (see "On the GPU").
    threshold : float, optional
        A pixel belongs to the object when ``alpha > threshold`` (strict).
        Given on the 0-255 scale whatever the dtype: it is multiplied by 257
        for uint16 and divided by 255 for floats.  Default 10.
    min_component : float, optional
        Leave out connected components (8-connected) of the mask smaller
        than this: pixels when >= 1, a fraction of the largest component
        when below 1.  Default None: every component counts.
    keep : {"all", "largest"}, optional
        ``"largest"``: only the largest component is the object.
    mask : (H, W) ndarray, optional
        The object mask of an RGB (or gray) ``image`` that has no alpha:
        bool, 0-255 integers or 0-1 floats; it is the alpha.

    Returns
    -------
    Measurement
        ``count``, ``area_fraction``, ``size_ratio = sqrt(count / (H*W))``,
        ``centroid`` (x, y), ``bbox`` (x0, y0, x1, y1) and ``shape`` of the
        object, and how many components (and pixels) the filter dropped.

    Notes
    -----
    All quantities come from one fused pass over the alpha channel (after
    ``scipy.ndimage.label`` when components are filtered; see
    :class:`pixscale.ObjectMask`).  An empty mask is not an error here:
    ``count`` is 0 and ``centroid``/``bbox`` are None.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> alpha = np.zeros((10, 10), np.uint8)
    >>> alpha[2:4, 3:8] = 255
    >>> m = pixscale.measure(alpha)
    >>> m.count, m.centroid, m.bbox
    (10, (5.5, 3.0), (3, 2, 8, 4))
    >>> round(m.size_ratio, 4)
    0.3162
    """
    rule = ObjectMask(threshold, min_component, keep)
    if on_device(image):  # the GPU path: pixscale._gpu
        return gpu().measure(image, rule, mask)
    if mask is not None:
        image = with_mask(image, mask)
    return measure_object(image, alpha_of(image), rule)[0]
