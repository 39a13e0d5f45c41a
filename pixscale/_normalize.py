"""Normalizing: ``normalize`` one image, ``Normalizer`` configured once, ``normalize_batch`` many."""

import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._filters import check_filter
from ._kinds import _from_array, _kind, _to_array
from ._object import ObjectMask, check_erase, without_specks
from ._parallel import run_parallel
from ._place import check_fit, parse_margin
from ._plan import CENTERS, Center, plan
from ._transform import ScaleTransform
from ._validate import (
    check_array,
    check_background,
    check_bool,
    check_float_range,
    check_point,
    check_shape,
    check_target,
    with_mask,
)
from ._warp import warp, warp_into


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
        fit: str = "shift",
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
                    f"`center=` must be one of {', '.join(map(repr, CENTERS))} or an (x, y) pair; got {center!r}"
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
            raise ValueError(f"`pixel_center=` must be 0.5 (pixel centres at +0.5) or 0 (OpenCV); got {pixel_center!r}")
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


def normalize(
    image: ArrayLike,
    *,
    target: float = 0.3,
    threshold: float = 10,
    min_component: float | None = None,
    keep: str = "all",
    erase_specks: bool = False,
    center: Center = "centroid",
    output_shape: tuple[int, int] | None = None,
    fit: str = "shift",
    margin: float | str = 0.0,
    exact: bool = True,
    filter: str = "bilinear",
    premultiplied: bool = True,
    background: float | Sequence[float] | str | None = None,
    mask: ArrayLike | None = None,
) -> np.ndarray:
    """Scale the object in an image to the target size about its centre.

    ``normalize(image, **kw)`` is ``warp(image, plan(image, **plan_kw), **warp_kw)``:
    :func:`pixscale.plan` measures the object and finds the scale,
    :func:`pixscale.warp` resamples.

    Parameters
    ----------
    image : (H, W, 4), (H, W, 2) or (H, W) ndarray
        RGBA, gray+alpha, or alpha alone; uint8, uint16, float32 or float64
        (floats in [0, 1], finite); any strides.
    target : float, optional
        Wanted size ratio ``sqrt(object pixels / output pixels)``, in (0, 1].
        Default 0.3.
    threshold : float, optional
        The object mask is ``alpha > threshold`` (strict), on the 0-255 scale
        whatever the dtype (x257 for uint16, /255 for floats).  Default 10.
    min_component, keep : optional
        The component filter of :func:`pixscale.plan`: specks it drops are
        ignored for size and centre.
    erase_specks : bool, optional
        If True, the dropped specks are also erased (all channels 0) from the
        image before it is warped; by default they are kept in the output.
    center : {"centroid", "bbox", "image"} or (x, y), optional
        The source point mapped to the centre of the output canvas: the
        mask's centroid (default), the centre of its bbox, the centre of the
        input canvas, or an explicit point in continuous pixel coordinates
        (pixel centres at +0.5).
    output_shape : (int, int), optional
        (H, W) of the output canvas; default the input's.
    fit : {"shift", "shrink", "none"}, optional
        How the object is kept whole: moved off centre as little as needed
        (``"shift"``, default), scaled down (``"shrink"``), or not at all
        (``"none"``); see :func:`pixscale.plan`.
    margin : float or str, optional
        Border the fit keeps free of the object: output pixels, or a
        percentage of the canvas (``"5%"``).  Default 0.
    exact : bool, optional
        If True (default) the scale is the one whose re-measured size ratio
        of the output is closest to ``target`` (within 2e-4 unless the
        object's edges make that unreachable); if False, the closed form
        ``target / size_ratio``.  Use :func:`pixscale.plan` to see whether the
        target was reached (``ScaleTransform.on_target``).
    filter : {"bilinear", "lanczos4", "area", "auto"}, optional
        The resampling filter (see :func:`pixscale.warp`); exact mode plans
        with it.  Default ``"bilinear"``.
    premultiplied : bool, optional
        If True (default) colour is interpolated premultiplied by alpha, so
        colour hidden under alpha = 0 never bleeds into the edges and fully
        transparent output pixels have colour 0.  If False, every channel is
        interpolated independently (as OpenCV does).
    background : float, sequence of float or str, optional
        Composite the colour onto this colour, keeping alpha (see
        :func:`pixscale.warp`): numbers in the image's own scale, or text on
        the 0-255 scale (``"white"``, ``"black"``, ``"gray"``, ``"#rrggbb"``,
        ``"r,g,b"``), which is white in every dtype for ``"white"``.  Default
        None: no compositing.
    mask : (H, W) ndarray, optional
        The object mask of an RGB (or gray) ``image`` without alpha (bool,
        0-255 integers or 0-1 floats): it becomes the alpha channel, and the
        result is RGBA (or gray+alpha).

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
        For an unsupported dtype or a wrongly typed option (``target="0.3"``).
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
    if mask is not None:
        image = with_mask(image, mask)
    rule = ObjectMask(threshold, min_component, keep)
    if check_erase(erase_specks, rule):
        image = without_specks(image, rule)
    t = plan(
        image,
        target=target,
        threshold=threshold,
        min_component=min_component,
        keep=keep,
        center=center,
        output_shape=output_shape,
        fit=fit,
        margin=margin,
        exact=exact,
        filter=filter,
    )
    return warp(image, t, premultiplied=premultiplied, background=background)


def normalize_batch(
    images: np.ndarray | Sequence[ArrayLike], *, threads: int | None = None, **options: Any
) -> np.ndarray | list[np.ndarray]:
    """Normalize every image of a batch, in parallel across images.

    Parameters
    ----------
    images : (N, H, W, C) ndarray or sequence of images
        Each image as accepted by :func:`pixscale.normalize`.
    threads : int, optional
        Worker threads (the kernels release the GIL); default all cores.
        ``threads=1`` runs serially in the calling thread.
    **options
        Keyword options of :func:`pixscale.normalize` (``target``, ``center``, ...).

    Returns
    -------
    ndarray or list of ndarray
        An array of the same shape and dtype for an array input (with
        ``output_shape`` given, (N, Ho, Wo, C)); a list for a sequence.

    Raises
    ------
    EmptyMaskError, ValueError, TypeError
        As :func:`pixscale.normalize`, for the first image that fails; the
        message names its index.

    Notes
    -----
    Images are handed out one at a time, in order, to ``threads`` threads,
    the calling thread among them; the kernels release the GIL, so only the
    thin Python planning code of two images ever waits on the other.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> batch = np.zeros((3, 64, 64, 4), np.uint8)
    >>> batch[:, 20:30, 20:30] = 255
    >>> pixscale.normalize_batch(batch, target=0.25).shape
    (3, 64, 64, 4)
    """
    if threads is None:
        threads = os.cpu_count() or 1
    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool):
        raise TypeError(f"`threads=` must be an int (a number of worker threads) or None; got {threads!r}")
    if threads < 1:
        raise ValueError(f"`threads=` must be a positive number of worker threads; got {threads}")
    is_array = isinstance(images, np.ndarray)
    if is_array and images.ndim not in (3, 4):
        raise ValueError(f"a batch array must have shape (N, H, W) or (N, H, W, C); got shape {images.shape}")

    # An array batch (without compositing) is written in place into one preallocated array,
    # so no serial gather of the results is left for the calling thread.
    out = None
    if is_array and options.get("background") is None and not options.get("erase_specks") and len(images):
        shape = options.get("output_shape")
        shape = images.shape[1:3] if shape is None else check_shape(shape)
        out = np.empty((len(images),) + tuple(shape) + images.shape[3:], images.dtype)
        premultiplied = options.pop("premultiplied", True)
        options.pop("background", None)  # given as None
        options.pop("erase_specks", None)  # given as False

    n = len(images)
    results = [None] * n

    def one(index):
        try:
            if out is None:
                results[index] = normalize(images[index], **options)
            else:
                image = check_float_range(check_array(images[index]))
                warp_into(image, plan(image, **options), premultiplied, out[index])
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"image {index} of the batch: {exc}") from exc

    run_parallel(one, n, threads)
    if out is not None:
        return out
    if is_array:
        return np.stack(results) if results else images.copy()
    return results
