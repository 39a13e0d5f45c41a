"""Normalizing: ``normalize`` one image, ``Normalizer`` configured once, ``normalize_batch`` many.

The three are one body, :func:`_apply`: the mask becomes the alpha, the
dropped specks are erased if asked, the view is planned
(:func:`pixscale._plan.plan_views`) and warped (into a batch's array, or a new
one).  Each reads its options from one :class:`~pixscale.Options`.
"""

import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._batch import LikeViews
from ._device import gpu, on_device
from ._kinds import from_array, kind_of, to_array
from ._object import without_specks
from ._options import DEFAULTS, OPTION_NAMES, Options, resolve
from ._parallel import run_parallel
from ._plan import plan_views
from ._transform import ScaleTransform
from ._validate import check_array, check_float_range, with_mask
from ._warp import warp_checked


def _apply(image, options, mask=None, out=None):
    """Normalize one image with its :class:`Options`: ``(output, transform)``; the output is ``out`` if given."""
    if mask is not None:
        image = with_mask(image, mask)
    image = check_float_range(check_array(image))
    if options.erase_specks:
        image = without_specks(image, options.object_mask)
    t = plan_views([image], options)[0]
    return warp_checked(image, t, options.premultiplied, options.background, out=out), t


class Normalizer:
    """pixscale's normalization configured once: a picklable transform for data loaders.

    ``Normalizer(...)(image)`` is :func:`pixscale.normalize` with these
    options, returning the kind of image it was given: a NumPy (H, W, C)
    array, a PIL image, or a torch tensor in (C, H, W) layout on the same
    device (torch is never imported unless a tensor is given).  A torch CUDA
    tensor (or a CuPy array or Numba device array, (H, W, C)) is normalized
    on the GPU, without a copy to the host (see "On the GPU" in the docs).

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
        Size ratio to reach, in (0, 1].  Default 0.3 (see :class:`pixscale.Options`).
    options : Options, optional
        Every option of :func:`pixscale.normalize` (see :class:`pixscale.Options`).
    pixel_center : {0.5, 0.0}, optional
        Principal-point convention of the camera matrices given to
        :meth:`with_camera` (see :meth:`ScaleTransform.intrinsics`).
    **keywords
        Or the options as keywords (``threshold=20, margin="5%"``), not both.
        ``norm.options`` is the record; its fields read through
        (``norm.target``).

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
        target: float | None = None,
        *,
        options: Options | None = None,
        pixel_center: float = 0.5,
        **keywords: Any,
    ) -> None:
        # Every option is checked here, once, with its type: a bad one fails at construction, not
        # at the first image (a worker's), and exact="no" is an error, not True.
        if target is not None:
            keywords = {"target": target, **keywords}
        self.options = resolve(options, keywords, "Normalizer")
        if isinstance(pixel_center, bool) or pixel_center not in (0, 0.5):
            raise ValueError(f"`pixel_center=` must be 0.5 (pixel centres at +0.5) or 0 (OpenCV); got {pixel_center!r}")
        self.pixel_center = float(pixel_center)

    def __getattr__(self, name: str) -> Any:
        # The options read through: norm.target, norm.fit, ... (only names not found otherwise land here).
        options = self.__dict__.get("options")
        if options is not None and name in OPTION_NAMES:
            return getattr(options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # norm.target = 0.2 changes the options, checked as a new Options is (an attribute beside
        # them would be read back but never used).
        if name in OPTION_NAMES:
            value, name = self.__dict__["options"].replace(**{name: value}), "options"
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        o = self.options
        shown = ["target", "threshold", "center", "fit", "margin", "exact"]
        parts = [f"{k}={getattr(o, k)!r}" for k in shown]
        parts += [f"{k}={getattr(o, k)!r}" for k in OPTION_NAMES if k not in shown and getattr(o, k) != DEFAULTS[k]]
        if self.pixel_center != 0.5:
            parts.append(f"pixel_center={self.pixel_center!r}")
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
        if on_device(image):  # the GPU path: pixscale._gpu
            return gpu().normalizer_apply(self.options, image, mask, plan_only=True)
        return plan_views([to_array(image, kind_of(image), mask)], self.options)[0]

    def _apply(self, image, mask):
        if on_device(image):  # the GPU path: pixscale._gpu
            return gpu().normalizer_apply(self.options, image, mask)
        kind = kind_of(image)
        out, t = _apply(to_array(image, kind, mask), self.options)
        return from_array(out, image, kind), t

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

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "Normalizer":
        """A normalizer with a model's input convention (:mod:`pixscale.presets`): canvas, background, target.

        Parameters
        ----------
        name : str
            A preset's name, one of :func:`pixscale.presets.names`
            (``"triposr"``, ``"lgm"``, ``"facelift-gslrm"``, ...).
        **overrides
            Any option of :class:`Normalizer` as a keyword; each one wins over
            the preset's value (``target=0.5``, ``background=None`` to keep RGBA).

        Returns
        -------
        Normalizer
            ``Normalizer(**{**preset.keywords(), **overrides})``.

        Raises
        ------
        ValueError
            For an unknown preset name (the message lists the names), or a bad option.
        TypeError
            For an unknown option, or ``options=`` (give the options as keywords).

        Examples
        --------
        >>> import pixscale
        >>> norm = pixscale.Normalizer.from_preset("lgm", margin="5%")
        >>> norm.output_shape, norm.background, norm.margin
        ((256, 256), 'white', '5%')
        """
        from .presets import get

        return cls(**{**get(name).keywords(), **overrides})


def normalize(
    image: ArrayLike, *, mask: ArrayLike | None = None, options: Options | None = None, **keywords: Any
) -> np.ndarray:
    """Scale the object in an image to the target size about its centre.

    ``normalize(image, **kw)`` is ``warp(image, plan(image, **plan_kw), **warp_kw)``:
    :func:`pixscale.plan` measures the object and finds the scale,
    :func:`pixscale.warp` resamples.

    Parameters
    ----------
    image : (H, W, 4), (H, W, 2) or (H, W) ndarray
        RGBA, gray+alpha, or alpha alone; uint8, uint16, float32 or float64
        (floats in [0, 1], finite); any strides.  On a CUDA device (a CuPy array, a
        torch CUDA tensor, a Numba device array; uint8, uint16 or float32) it
        runs on the GPU and returns the same kind there (see "On the GPU").
    mask : (H, W) ndarray, optional
        The object mask of an RGB (or gray) ``image`` without alpha (bool,
        0-255 integers or 0-1 floats): it becomes the alpha channel, and the
        result is RGBA (or gray+alpha).
    options : Options, optional
        Every option, checked once (see :class:`pixscale.Options`):
        ``target`` (the size ratio to reach, 0.3); the object mask
        ``threshold``, ``min_component``, ``keep`` and ``erase_specks``;
        the placement ``center``, ``output_shape``, ``fit`` and ``margin``;
        ``exact``; the warp's ``filter``, ``premultiplied`` and ``background``.
    **keywords
        Or the same options as keywords (``target=0.4, margin="5%"``), not
        both: keywords next to ``options=`` are a ``TypeError`` (change a
        field with ``options=options.replace(target=0.4)``).

    Returns
    -------
    ndarray
        The normalized image: the same dtype and number of channels as
        ``image`` (one more, the alpha, with ``mask``), of shape (H, W) =
        ``output_shape`` (default the input's).

    Raises
    ------
    EmptyMaskError
        If no pixel's alpha exceeds the threshold (a ``ValueError``).
    VanishedObjectError
        If the object would vanish from the output (an ``EmptyMaskError``): see
        :func:`pixscale.plan`.
    TypeError
        For an unsupported dtype, a wrongly typed option (``target="0.3"``),
        an unknown keyword, or keywords given with ``options=``.
    ValueError
        For a wrong shape (no alpha channel: (H, W, 3)), float values outside
        [0, 1] or not finite, an option out of range (``target``,
        ``threshold``, ``margin``, ``center``, ``output_shape``) or an unknown
        background colour.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> img = np.zeros((200, 200, 4), np.uint8)
    >>> img[5:25, 5:25] = (200, 100, 50, 255)
    >>> out = pixscale.normalize(img, target=0.3)
    >>> out.shape, out.dtype
    ((200, 200, 4), dtype('uint8'))
    >>> round(pixscale.measure(out).size_ratio, 4)
    0.3
    """
    if on_device(image):  # the GPU path: pixscale._gpu
        return gpu().normalize(image, resolve(options, keywords, "normalize"), mask)
    return _apply(image, resolve(options, keywords, "normalize"), mask)[0]


def _batch_masks(mask, n):
    """``mask=`` of a batch of ``n`` images as one mask (or None) per image."""
    if mask is None:
        return [None] * n
    if isinstance(mask, (list, tuple)):
        if len(mask) != n:
            raise ValueError(
                f"`mask=` is a list of {len(mask)} masks for a batch of {n} images; give one mask per image, "
                "one (H, W) mask for all of them, or an (N, H, W) array"
            )
        return list(mask)
    m = np.asarray(mask)
    if m.ndim == 2:
        return [m] * n
    if m.ndim == 3 and m.shape[0] == n:
        return list(m)
    raise ValueError(
        f"`mask=` of a batch of {n} images must be one (H, W) mask for all of them, an (N, H, W) array with "
        f"N = {n}, or a list of {n} masks; got an array of shape {m.shape}"
    )


def normalize_batch(
    images: np.ndarray | Sequence[ArrayLike],
    *,
    mask: ArrayLike | Sequence[ArrayLike] | None = None,
    threads: int | None = None,
    options: Options | None = None,
    **keywords: Any,
) -> np.ndarray | list[np.ndarray]:
    """Normalize every image of a batch, in parallel across images.

    Parameters
    ----------
    images : (N, H, W, C) or (N, H, W) ndarray, or sequence of images
        Each image as accepted by :func:`pixscale.normalize`.  An
        (N, H, W, 4) batch on a CUDA device runs on the GPU, every view in
        one launch per step, and returns the same kind there.
    mask : ndarray or sequence of ndarray, optional
        The object masks of RGB (or gray) images without alpha, as for
        :func:`pixscale.normalize`: one (H, W) mask for every image, an
        (N, H, W) array, or a sequence of N masks, one per image.  Each
        output gains its mask as the alpha channel.
    threads : int, optional
        Worker threads (the kernels release the GIL); default all cores.
        ``threads=1`` runs serially in the calling thread.
    options : Options, optional
        The options of :func:`pixscale.normalize` (see :class:`pixscale.Options`).
    **keywords
        Or the same options as keywords (``target=0.25``), not both.

    Returns
    -------
    ndarray or list of ndarray
        For an array input one array of the input's dtype, (N, Ho, Wo, C):
        ``(Ho, Wo)`` is ``output_shape`` (default the input's), and ``C``
        has one channel more with ``mask``; a list for a sequence.

    Raises
    ------
    EmptyMaskError, ValueError, TypeError
        As :func:`pixscale.normalize`, for the first image that fails; the
        message names its index.  A ``ValueError`` for a ``mask`` of
        another form, or a count of masks other than N.

    Notes
    -----
    Every image gives the same bytes as :func:`pixscale.normalize`.  Images
    are handed out one at a time, in order, to ``threads`` threads, the
    calling thread among them; the kernels release the GIL, so only the thin
    Python between two kernel calls of two images ever waits on the other.
    Images of one shape, dtype and memory layout with integer alpha (uint8,
    uint16), the bilinear filter and no component filter or ``mask`` are
    planned in compiled calls (the measure, the closed-form plan and
    placement, exact mode's search), with a few microseconds of Python an
    image; any other image, or one whose plan needs more (a tiny object, a
    scale capped by ``fit`` in exact mode, an error), goes through
    :func:`pixscale.normalize`'s own code.  An array batch is written in place
    into one preallocated array, so no serial gather is left for the calling
    thread.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> batch = np.zeros((3, 64, 64, 4), np.uint8)
    >>> batch[:, 20:30, 20:30] = 255
    >>> pixscale.normalize_batch(batch, target=0.25).shape
    (3, 64, 64, 4)
    >>> rgb, matte = batch[..., :3], batch[0, ..., 3]
    >>> pixscale.normalize_batch(rgb, mask=matte, target=0.25).shape
    (3, 64, 64, 4)
    """
    if on_device(images) or (isinstance(images, (list, tuple)) and any(map(on_device, images))):  # pixscale._gpu
        return gpu().normalize_batch(images, resolve(options, keywords, "normalize_batch"), mask, threads)
    options = resolve(options, keywords, "normalize_batch")
    if threads is None:
        threads = os.cpu_count() or 1
    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool):
        raise TypeError(f"`threads=` must be an int (a number of worker threads) or None; got {threads!r}")
    if threads < 1:
        raise ValueError(f"`threads=` must be a positive number of worker threads; got {threads}")
    is_array = isinstance(images, np.ndarray)
    if is_array and images.ndim not in (3, 4):
        raise ValueError(f"a batch array must have shape (N, H, W) or (N, H, W, C); got shape {images.shape}")
    n = len(images)
    masks = _batch_masks(mask, n)
    results: list[Any] = [None] * n
    out = None
    if is_array:
        shape = images.shape[1:3] if options.output_shape is None else options.output_shape
        channels = images.shape[3:] if mask is None else ((images.shape[3] if images.ndim == 4 else 1) + 1,)
        out = np.empty((n, *shape, *channels), images.dtype.newbyteorder("="))

    like = LikeViews.of(images, options, mask)

    def one(index):
        try:
            image, into = images[index], None if out is None else out[index]
            done = None if like is None else like.normalize(image, into)
            results[index] = _apply(image, options, masks[index], into)[0] if done is None else done
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"image {index} of the batch: {exc}") from exc

    run_parallel(one, n, threads)
    return results if out is None else out
