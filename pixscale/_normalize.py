"""``Normalizer``: the normalization configured once, as a transform for data pipelines."""

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._filters import check_filter
from ._object import ObjectMask, check_erase, without_specks
from ._place import check_fit, parse_margin
from ._plan import CENTERS, plan
from ._transform import ScaleTransform
from ._validate import check_background, check_bool, check_point, check_target, with_mask
from ._warp import warp


def _kind(image):
    """``"numpy"``, ``"pil"`` or ``"torch"``: duck-typed, so neither PIL nor torch is imported to ask."""
    module = type(image).__module__
    if module.startswith("PIL.") and hasattr(image, "mode"):
        return "pil"
    if module.startswith("torch") and hasattr(image, "permute"):
        return "torch"
    return "numpy"


# PIL modes read through Normalizer, by what they hold: gray or colour without alpha (a mask
# or a ``transparency`` key gives it one), with alpha (kept), and one-channel modes deeper than
# 8 bits, which PIL has no mode with an alpha channel for.
_PIL_GRAY = ("1", "L")
_PIL_COLOUR = ("P", "RGB", "RGBX")
_PIL_ALPHA = {"LA": "LA", "La": "LA", "PA": "RGBA", "RGBA": "RGBA", "RGBa": "RGBA"}
_PIL_DEEP = {
    "I": "32-bit integer",
    "I;16": "16-bit",
    "I;16L": "16-bit",
    "I;16B": "16-bit",
    "I;16N": "16-bit",
    "F": "32-bit float",
}


def _pil_has_alpha(image):
    """Whether a PIL image carries transparency: an alpha band, a ``transparency`` key or a palette's alpha."""
    if image.mode in _PIL_ALPHA:
        return True
    has = getattr(image, "has_transparency_data", None)  # Pillow >= 10.1 (palette alpha included)
    if has is not None:
        return bool(has)
    return "transparency" in image.info


def _pil_to_array(image, mask):
    """A PIL image as an 8-bit (H, W, C) array: gray / RGB with ``mask`` given, LA / RGBA without."""
    mode = image.mode
    if mode in _PIL_DEEP:
        how = (
            "np.asarray(image).astype(np.uint16) if its values are 16-bit"
            if mode == "I"
            else "np.asarray(image) (float values in [0, 1])"
            if mode == "F"
            else "np.asarray(image)"
        )
        raise TypeError(
            f"a PIL image of mode {mode!r} is {_PIL_DEEP[mode]} gray, and PIL has no mode for {_PIL_DEEP[mode]} "
            f"gray with an alpha channel to return the result in (8 bits would lose its depth); pass the pixels "
            f"as an array, {how}, with its mask as mask=: the result comes back as an (H, W, 2) array of "
            "the same dtype"
        )
    if mode not in _PIL_GRAY + _PIL_COLOUR + tuple(_PIL_ALPHA):
        raise TypeError(
            f"PIL images of mode {mode!r} are not read; convert it first, image.convert('RGBA') (or 'RGB' with mask=)"
        )
    has_alpha = _pil_has_alpha(image)
    if mask is not None:
        if has_alpha:
            raise ValueError(
                f"the PIL image (mode {mode!r}) has an alpha channel or transparency of its own and a mask= "
                "was given too; to measure by the mask pass image.convert('RGB') (or 'L'), or leave out "
                "mask= to use its alpha"
            )
        return np.asarray(image.convert("L" if mode in _PIL_GRAY else "RGB"))
    if not has_alpha:
        raise ValueError(
            f"a PIL image of mode {mode!r} has no alpha channel to measure the object by; give an RGBA or LA "
            "image (Image.putalpha adds a mask), or the object mask as mask="
        )
    if mode in _PIL_ALPHA:
        target = _PIL_ALPHA[mode]
    else:
        target = "LA" if mode in _PIL_GRAY else "RGBA"
    return np.asarray(image if mode == target else image.convert(target))


def _to_array(image, kind, mask=None):
    """The image as an (H, W, C) array (a tensor's (C, H, W) moved), with ``mask`` as its alpha if given."""
    if kind == "pil":
        array = _pil_to_array(image, mask)
        return array if mask is None else with_mask(array, mask)
    if mask is not None:
        return with_mask(_to_array(image, "torch") if kind == "torch" else image, mask)
    if kind == "torch":
        if image.ndim != 3:
            raise ValueError(f"a tensor image must be (C, H, W); got shape {tuple(image.shape)}")
        return image.detach().cpu().numpy().transpose(1, 2, 0)
    return image


def _from_array(out, like, kind):
    if kind == "pil":
        from PIL import Image

        return Image.fromarray(out, mode="LA" if out.shape[2] == 2 else "RGBA")
    if kind == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))).to(like.device)
    return out


class Normalizer:
    """pixscale's normalization configured once: a picklable transform for data loaders.

    ``Normalizer(...)(image)`` is :func:`pixscale.normalize` with these
    options, returning the kind of image it was given: a NumPy (H, W, C)
    array, a PIL image, or a torch tensor in (C, H, W) layout on the same
    device (torch is never imported unless a tensor is given).

    PIL images come back as LA (from ``1``, ``L``, ``LA``, ``La``) or RGBA
    (from ``P``, ``PA``, ``RGB``, ``RGBX``, ``RGBA``, ``RGBa``): their alpha is
    an alpha band, a ``transparency`` key or a palette's alpha, or ``mask=``
    for one without (an image with transparency and a mask is refused as
    ambiguous). PIL has no mode for 16-bit, 32-bit or float gray with alpha,
    so modes ``I``, ``I;16*`` and ``F`` raise ``TypeError``: pass them as
    arrays (``np.asarray(image)``), which keep their dtype.

    Parameters
    ----------
    target : float, optional
        Size ratio to reach, in (0, 1].  Default 0.3.
    threshold, min_component, keep, center, fit, margin, exact, filter : optional
        As for :func:`pixscale.plan`.
    erase_specks : bool, optional
        As for :func:`pixscale.normalize`: erase the specks the component
        filter drops from the output too.
    premultiplied, background : optional
        As for :func:`pixscale.warp`.
    pixel_center : {0.5, 0.0}, optional
        Principal-point convention of the camera matrices given to
        :meth:`with_camera` (see :meth:`ScaleTransform.intrinsics`).

    Raises
    ------
    ValueError, TypeError
        For an option of the wrong type (``exact``, ``premultiplied`` and
        ``erase_specks`` must be True or False, not ``"no"`` or 1) or out of
        range, at construction; ``background`` is checked against the image's
        scale (255, 65535 or 1.0) when an image is given.

    Examples
    --------
    >>> import numpy as np, pickle, pixscale
    >>> norm = pixscale.Normalizer(0.4, margin="5%")
    >>> norm
    Normalizer(target=0.4, threshold=10.0, center='centroid', fit='shift', margin='5%', exact=True)
    >>> img = np.zeros((64, 64, 4), np.uint8); img[10:20, 30:44] = 255
    >>> out = pickle.loads(pickle.dumps(norm))(img)
    >>> out.shape, round(pixscale.measure(out).size_ratio, 3)
    ((64, 64, 4), 0.4)
    """

    def __init__(
        self,
        target: float = 0.3,
        *,
        threshold: float = 10,
        min_component: float | None = None,
        keep: str = "all",
        erase_specks: bool = False,
        center: str | tuple[float, float] = "centroid",
        fit: str | bool = "shift",
        margin: float | str = 0.0,
        exact: bool = True,
        filter: str = "bilinear",
        premultiplied: bool = True,
        background: float | Sequence[float] | str | None = None,
        pixel_center: float = 0.5,
    ) -> None:
        # Every option is checked here, once, with its type: a bad one fails at construction, not
        # at the first image (a worker's), and exact="no" is an error, not True.
        self.target = check_target(target)
        rule = ObjectMask(threshold, min_component, keep)
        self.threshold, self.min_component, self.keep = rule.threshold, rule.min_component, rule.keep
        self.erase_specks = check_erase(check_bool(erase_specks, name="erase_specks"), rule)
        if isinstance(center, str):
            if center not in CENTERS:
                raise ValueError(
                    f"center must be one of {', '.join(map(repr, CENTERS))} or an (x, y) pair; got {center!r}"
                )
        else:
            check_point(center, name="center")
        self.center = center
        self.fit = check_fit(fit)
        parse_margin(margin)
        self.margin = margin
        self.exact = check_bool(exact, name="exact")
        self.filter = check_filter(filter)
        self.premultiplied = check_bool(premultiplied, name="premultiplied")
        self.background = check_background(background)
        if isinstance(pixel_center, bool) or pixel_center not in (0, 0.5):
            raise ValueError(f"pixel_center must be 0.5 (pixel centres at +0.5) or 0 (OpenCV); got {pixel_center!r}")
        self.pixel_center = float(pixel_center)

    def __repr__(self) -> str:
        shown = ["target", "threshold", "center", "fit", "margin", "exact"]
        defaults = {
            "min_component": None,
            "keep": "all",
            "erase_specks": False,
            "filter": "bilinear",
            "premultiplied": True,
            "background": None,
            "pixel_center": 0.5,
        }
        shown += [k for k, v in defaults.items() if getattr(self, k) != v]
        parts = [f"{k}={getattr(self, k)!r}" for k in shown]
        return f"Normalizer({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Normalizer and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]  # mutable options: not hashable

    def plan(self, image: Any, mask: ArrayLike | None = None) -> ScaleTransform:
        """The :class:`ScaleTransform` this normalizer applies to ``image``.

        Parameters
        ----------
        image : ndarray, PIL image or torch tensor
            As for :meth:`__call__`.
        mask : (H, W) ndarray, optional
            The object mask of an RGB image, used as its alpha.

        Returns
        -------
        ScaleTransform

        Examples
        --------
        >>> import numpy as np, pixscale
        >>> img = np.zeros((40, 40), np.uint8); img[5:15, 5:15] = 255
        >>> pixscale.Normalizer(0.5, exact=False).plan(img).scale
        2.0
        """
        return self._plan(_to_array(image, _kind(image), mask))

    def _plan(self, array):
        return plan(
            array,
            target=self.target,
            threshold=self.threshold,
            min_component=self.min_component,
            keep=self.keep,
            center=self.center,
            fit=self.fit,
            margin=self.margin,
            exact=self.exact,
            filter=self.filter,
        )

    def _apply(self, image, mask):
        kind = _kind(image)
        array = _to_array(image, kind, mask)
        if self.erase_specks:
            array = without_specks(array, ObjectMask(self.threshold, self.min_component, self.keep))
        t = self._plan(array)
        out = warp(array, t, premultiplied=self.premultiplied, background=self.background)
        return _from_array(out, image, kind), t

    def __call__(self, image: Any, mask: ArrayLike | None = None) -> Any:
        """The normalized image, of the same kind as ``image``.

        Parameters
        ----------
        image : ndarray, PIL image or torch tensor
            (H, W, C) array, RGBA / LA PIL image, or (C, H, W) tensor.
        mask : (H, W) ndarray, optional
            Bool, 0-255 or 0-1: an RGB image is measured by it and comes
            back with it as its alpha channel.

        Returns
        -------
        ndarray, PIL image or torch tensor
            The same kind, dtype and layout as ``image``.

        Examples
        --------
        >>> import numpy as np, pixscale
        >>> rgb = np.zeros((40, 40, 3), np.uint8); matte = np.zeros((40, 40), bool); matte[5:15, 5:15] = True
        >>> pixscale.Normalizer(0.5)(rgb, mask=matte).shape
        (40, 40, 4)
        """
        return self._apply(image, mask)[0]

    def with_camera(self, image: Any, K: ArrayLike, mask: ArrayLike | None = None) -> tuple[Any, np.ndarray]:
        """The normalized image and the camera matrix that matches it.

        Parameters
        ----------
        image : ndarray, PIL image or tensor
        K : (3, 3) array_like
            The input's intrinsics, in the ``pixel_center`` convention.
        mask : (H, W) ndarray, optional
            The object mask of an RGB image, as for :meth:`__call__`.

        Returns
        -------
        (image, (3, 3) float64 ndarray)
            The normalized image (as :meth:`__call__`) and ``K'``.

        Examples
        --------
        >>> import numpy as np, pixscale
        >>> img = np.zeros((40, 40), np.uint8); img[5:15, 5:15] = 255
        >>> K = np.array([[50.0, 0, 20], [0, 50.0, 20], [0, 0, 1]])
        >>> _, K2 = pixscale.Normalizer(0.5, exact=False).with_camera(img, K)
        >>> float(K2[0, 0]), float(K2[0, 2])
        (100.0, 40.0)
        """
        out, t = self._apply(image, mask)
        return out, t.intrinsics(K, pixel_center=self.pixel_center)
