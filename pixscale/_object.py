"""The object mask: which pixels are the object.  Its one home.

A pixel is the object when its alpha exceeds the threshold *and* it lies in
a connected component (8-connected) of that mask the component filter keeps.
:class:`ObjectMask` holds that rule; measuring, planning (exact mode's probe
warps the object's alpha), the report's re-measure and the pipeline all ask
it which pixels count.  An external mask (an RGB image's separate matte)
becomes the alpha first (:func:`pixscale._validate.with_mask`), then the same
rule applies.
"""

import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validate import alpha_of, check_threshold, finite, threshold_value

KEEP = ("all", "largest")
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class Selection:
    """What :meth:`ObjectMask.select` kept and dropped in one alpha channel.

    ``alpha`` is the object's alpha: the input's, with the dropped islands'
    pixels and their faint rims (2 px at or below the threshold) set to 0
    (the input itself when nothing was dropped).  ``dropped`` is the (H, W)
    bool mask of those pixels, or None when nothing was dropped;
    ``components`` and ``pixels`` count the islands and their pixels above
    the threshold.
    """

    alpha: np.ndarray
    dropped: np.ndarray | None
    components: int
    pixels: int


@dataclass(frozen=True)
class ObjectMask:
    """Which pixels are the object: ``alpha > threshold``, less the specks the component filter drops.

    Parameters
    ----------
    threshold : float, optional
        A pixel can be the object when ``alpha > threshold`` (strict), on the
        0-255 scale whatever the dtype.  Default 10.
    min_component : float, optional
        Drop connected components (8-connected) of the thresholded mask
        smaller than this before measuring: a number of pixels when >= 1
        (``200``), a fraction of the largest component's pixels when below 1
        (``0.05``).  The largest component is always kept, so the filter
        never empties a mask.  Default None: keep every component.
    keep : {"all", "largest"}, optional
        ``"largest"`` keeps only the largest component (the first in raster
        order on a tie), whatever ``min_component`` says.  Default ``"all"``.

    Notes
    -----
    Dropped pixels are left out of the count, the centroid and the box, so a
    few stray islands of a matte (rembg, SAM, green screen) neither move the
    centre nor change the size.  Whether they also vanish from the output
    image is the warp's choice (``erase_specks``).

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> alpha = np.zeros((20, 20), np.uint8); alpha[5:15, 5:15] = 255; alpha[0, 19] = 255
    >>> m = pixscale.measure(alpha, min_component=10)
    >>> m.count, m.dropped_components, m.dropped_pixels
    (100, 1, 1)
    """

    threshold: float = 10
    min_component: float | None = None
    keep: str = "all"

    def __post_init__(self):
        object.__setattr__(self, "threshold", check_threshold(self.threshold))
        mc = self.min_component
        if mc is not None:
            if isinstance(mc, bool) or not isinstance(mc, numbers.Real):
                raise TypeError(
                    f"`min_component=` must be a number of pixels (>= 1) or a fraction of the largest "
                    f"component (below 1); got {mc!r}"
                )
            if not (finite(mc) and mc >= 0):
                raise ValueError(
                    f"`min_component=` must be a number of pixels (>= 1) or a fraction of the largest "
                    f"component (0 to 1); got {mc!r}"
                )
        if self.keep not in KEEP:
            raise ValueError(f"`keep=` must be one of {', '.join(map(repr, KEEP))}; got {self.keep!r}")

    @property
    def filters(self) -> bool:
        """True when the rule can drop components (``min_component`` or ``keep="largest"``)."""
        return self.keep == "largest" or (self.min_component is not None and self.min_component > 0)

    def scaled(self, scale: float) -> "ObjectMask":
        """The same rule for an image scaled by ``scale``: a pixel count grows by ``scale ** 2``.

        For measuring a warped image again; it matches the input's rule only
        roughly (resampling does not scale a soft speck's area by exactly
        ``scale ** 2``; the report measures the object carried through the
        warp instead).  Fractions and ``keep`` do not change, and a pixel
        count never falls below 1 (it would read as a fraction).

        Parameters
        ----------
        scale : float
            The linear magnification of the image the rule will measure.

        Returns
        -------
        ObjectMask

        Examples
        --------
        >>> import pixscale
        >>> pixscale.ObjectMask(min_component=100).scaled(1.5).min_component
        225.0
        """
        mc = self.min_component
        if mc is None or mc < 1:
            return self
        # Still a pixel count: below 1 it would read as a fraction of the largest component.
        return ObjectMask(self.threshold, max(mc * scale * scale, 1.0), self.keep)

    def select(self, alpha: np.ndarray) -> Selection:
        """Split an (H, W) alpha into the object and the dropped islands.

        Parameters
        ----------
        alpha : (H, W) ndarray
            An alpha channel (uint8, uint16 or floats in [0, 1]).

        Returns
        -------
        Selection
            ``alpha``: the object's alpha (dropped pixels set to 0; the input
            itself when nothing is dropped), ``dropped``: their (H, W) bool
            mask or None, ``components`` and ``pixels`` dropped.

        Examples
        --------
        >>> import numpy as np, pixscale
        >>> alpha = np.zeros((8, 8), np.uint8); alpha[1:5, 1:5] = 255; alpha[7, 7] = 255
        >>> sel = pixscale.ObjectMask(keep="largest").select(alpha)
        >>> sel.components, sel.pixels, int(sel.alpha[7, 7])
        (1, 1, 0)
        """
        mc = self.min_component
        if not self.filters:
            return Selection(alpha, None, 0, 0)
        mask = alpha > threshold_value(alpha.dtype, self.threshold)
        labels, n = label(mask)
        if n <= 1:
            return Selection(alpha, None, 0, 0)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        sizes[0] = 0
        largest = int(sizes.argmax())
        if self.keep == "largest":
            kept = np.zeros(n + 1, dtype=bool)
        else:
            assert mc is not None  # self.filters
            minimum = mc if mc >= 1 else mc * sizes[largest]
            kept = sizes >= minimum
        kept[largest] = True  # the object is never dropped, however small: only what is smaller
        kept[0] = True  # the background is not an island
        lost = ~kept
        n_lost = int(lost.sum())
        if n_lost == 0:
            return Selection(alpha, None, 0, 0)
        dropped = lost[labels]
        # With each island goes its faint rim (2 px at or below the threshold), which would
        # otherwise stay as a ghost of the speck and, resampled, could still reach the threshold.
        dropped |= _dilate(dropped) & (labels == 0)
        obj = alpha.copy()
        obj[dropped] = 0
        return Selection(obj, dropped, n_lost, int(sizes[lost].sum()))

    def to_dict(self) -> dict[str, Any]:
        """The rule as JSON-ready values.

        Returns
        -------
        dict
            ``threshold``, ``min_component`` and ``keep``.

        Examples
        --------
        >>> import pixscale
        >>> pixscale.ObjectMask(min_component=0.05).to_dict()
        {'threshold': 10.0, 'min_component': 0.05, 'keep': 'all'}
        """
        return {"threshold": self.threshold, "min_component": self.min_component, "keep": self.keep}


def _dilate(mask):
    """``mask`` grown by 2 pixels (8-connected)."""
    from scipy import ndimage

    return ndimage.binary_dilation(mask, structure=_EIGHT, iterations=2)


def label(mask):
    """8-connected components of a bool mask, as the component filter counts them: ``(labels, count)``."""
    from scipy import ndimage

    return ndimage.label(mask, structure=_EIGHT)


def erase(image, dropped):
    """``image`` with every channel of the ``dropped`` pixels set to 0 (a copy), or ``image`` if None."""
    if dropped is None:
        return image
    out = np.array(image, copy=True)
    out[dropped] = 0
    return out


def check_erase(erase_specks, rule):
    """``erase_specks`` as a bool; a ``ValueError`` when it is asked of a rule that drops nothing."""
    if erase_specks and not rule.filters:
        raise ValueError(
            "`erase_specks=True` needs a component filter to say what the specks are: "
            'give `min_component=` (e.g. 200 px, or 0.05 of the largest) or `keep="largest"`'
        )
    return bool(erase_specks)


def without_specks(image, rule):
    """A validated image with the islands ``rule`` drops (and their rims) erased: all channels 0."""
    return erase(image, rule.select(alpha_of(image)).dropped)
