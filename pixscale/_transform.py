"""The scale-about-a-centre transform and what it does to points and cameras."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._filters import check_filter
from ._measure import Measurement
from ._validate import check_point, check_scale, check_shape


@dataclass(frozen=True)
class ScaleTransform:
    """A uniform scale about a source point that lands on a destination point.

    A point ``p = (x, y)`` of the input, in continuous pixel coordinates
    (pixel (i, j) covers ``[j, j+1) x [i, i+1)``, centre ``(j + 0.5, i + 0.5)``),
    maps to ``q = scale * (p - src_center) + dst_center`` in the output.

    Attributes
    ----------
    scale : float
        Linear magnification, > 0.
    src_center, dst_center : (float, float)
        The fixed pair of the map: ``src_center`` lands on ``dst_center``.
    input_shape, output_shape : (int, int)
        (H, W) of the image the transform applies to and of its result.
    limited : bool
        True when the fit rule shrank the scale below ``wanted_scale`` so the
        object stays on the canvas; nothing else sets it.
    measurement : Measurement or None
        The input's measurement the plan was made from.
    target : float or None
        The size ratio the plan aimed for.
    achieved_ratio : float or None
        The size ratio re-measured on the warped alpha (exact plans only).
    tolerance : float or None
        The tolerance on the size ratio that exact mode aimed for (2e-4, or
        one pixel's worth of area on small canvases, at most a tenth of the
        target: a canvas of a few pixels is off target); None for closed-form
        plans and transforms built directly.
    on_target : bool or None
        Property: ``abs(achieved_ratio - target) <= tolerance``, i.e. whether
        exact mode reached the target; None when the plan was not exact.
        It can be False without ``limited``: the re-measured ratio moves in
        jumps as pixels cross the threshold, and on some masks (an all-opaque
        canvas, a hard-edged square) no scale lands within the tolerance.
        For :func:`pixscale.plan_group` it describes the view's own ratio,
        which a shared scale does not aim to put on the target.
    wanted_scale : float or None
        The scale the target asks for, before the fit rule's cap (for
        :func:`pixscale.plan_group`, the group's shared scale); ``scale``
        is smaller exactly when ``limited``.  None for transforms built
        directly.
    shift : (float, float) or None
        ``(dx, dy)`` in output pixels: how far ``fit="shift"`` moved the
        object from the ideal position (the source centre on the canvas
        centre) to keep it whole; ``(0, 0)`` when it did not move.  Already
        part of ``dst_center``.  None for transforms built directly.
    cut_pixels : int or None
        Object pixels (warped alpha > threshold) that fall outside the
        canvas: 0 unless ``fit="none"``.  None for transforms built directly.
    filter : str
        The resampling filter :func:`pixscale.warp` uses by default (see
        there): the one exact mode planned with.  ``"bilinear"`` unless given.
        It has no part in the geometry (:meth:`map_points`, :meth:`intrinsics`).

    Examples
    --------
    >>> t = ScaleTransform(2.0, (10, 10), (32, 32), (64, 64), (64, 64))
    >>> t.map_points([[10, 10], [12, 10]])
    array([[32., 32.],
           [36., 32.]])
    """

    scale: float
    src_center: tuple
    dst_center: tuple
    input_shape: tuple
    output_shape: tuple
    limited: bool = False
    measurement: Measurement | None = field(default=None, repr=False)
    target: float | None = None
    achieved_ratio: float | None = None
    tolerance: float | None = None
    wanted_scale: float | None = None
    shift: tuple | None = None
    cut_pixels: int | None = None
    filter: str = "bilinear"

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "scale", check_scale(self.scale))
        set_(self, "src_center", check_point(self.src_center, name="src_center"))
        set_(self, "dst_center", check_point(self.dst_center, name="dst_center"))
        set_(self, "input_shape", check_shape(self.input_shape, name="input_shape", limit=False))
        set_(self, "output_shape", check_shape(self.output_shape, name="output_shape", limit=False))
        set_(self, "limited", bool(self.limited))
        check_filter(self.filter)

    @classmethod
    def _planned(cls, **fields: Any) -> "ScaleTransform":
        """A transform from the planner, given every field, valued as :meth:`__post_init__` leaves them.

        The centres are pairs of Python floats, the shapes pairs of ints,
        ``limited`` a bool and ``filter`` a checked name: only the scale (the
        result of a search) is checked again.  Skipping the other checks
        saves a few microseconds of Python that hold the GIL for every image
        of :func:`pixscale.normalize_batch`; the result equals
        ``ScaleTransform(**fields)`` (tests/api/test_transform.py).
        """
        fields["scale"] = check_scale(fields["scale"])
        t = object.__new__(cls)
        vars(t).update(fields)
        return t

    @property
    def on_target(self) -> bool | None:
        """True when the achieved ratio is within ``tolerance`` of ``target``; None unless exact.

        Never True when nothing of the object is left (``achieved_ratio`` 0),
        which a tiny canvas's one-pixel tolerance would otherwise allow.
        """
        if self.achieved_ratio is None or self.target is None or self.tolerance is None:
            return None
        return self.achieved_ratio > 0 and abs(self.achieved_ratio - self.target) <= self.tolerance

    def map_points(self, xy: ArrayLike) -> np.ndarray:
        """Map input points to output points.

        Parameters
        ----------
        xy : (..., 2) array_like
            Points (x, y) in the input's continuous pixel coordinates.

        Returns
        -------
        (..., 2) float64 ndarray
            ``scale * (xy - src_center) + dst_center``.

        Raises
        ------
        ValueError
            If the last axis of ``xy`` is not of length 2.

        Examples
        --------
        >>> ScaleTransform(0.5, (0, 0), (1, 1), (4, 4), (4, 4)).map_points([2, 4])
        array([2., 3.])
        """
        xy = np.asarray(xy, dtype=np.float64)
        if xy.shape[-1:] != (2,):
            raise ValueError(f"points must have shape (..., 2) as (x, y); got shape {xy.shape}")
        return self.scale * (xy - np.asarray(self.src_center)) + np.asarray(self.dst_center)

    def inverse(self) -> "ScaleTransform":
        """The transform that maps output points back to input points.

        Returns
        -------
        ScaleTransform
            Scale ``1 / scale`` from ``dst_center`` to ``src_center``, with the
            shapes swapped.

        Examples
        --------
        >>> t = ScaleTransform(2.0, (10, 10), (32, 32), (64, 64), (64, 64))
        >>> t.inverse().map_points(t.map_points([5.0, 7.0]))
        array([5., 7.])
        """
        return ScaleTransform(
            scale=1.0 / self.scale,
            src_center=self.dst_center,
            dst_center=self.src_center,
            input_shape=self.output_shape,
            output_shape=self.input_shape,
            filter=self.filter,
        )

    def matrix(self, *, pixel_center: float = 0.5) -> np.ndarray:
        """The 3x3 affine matrix of the map in a given pixel-coordinate convention.

        Parameters
        ----------
        pixel_center : float, optional
            The coordinate of the first pixel's centre: 0.5 for pixscale's
            continuous coordinates (and FaceLift / GS-LRM rays, ``u + 0.5``),
            0.0 for classic OpenCV.

        Returns
        -------
        (3, 3) float64 ndarray
            ``A`` such that ``A @ [u, v, 1]`` is the mapped point in that
            convention.  With ``pixel_center=0`` it is what
            ``cv2.warpAffine(image, A[:2], (W, H))`` expects.

        Examples
        --------
        >>> ScaleTransform(2.0, (1, 1), (4, 4), (8, 8), (8, 8)).matrix(pixel_center=0)
        array([[2. , 0. , 2.5],
               [0. , 2. , 2.5],
               [0. , 0. , 1. ]])
        """
        shift = 0.5 - float(pixel_center)  # convention -> continuous coordinates
        s = self.scale
        (cx, cy), (dx, dy) = self.src_center, self.dst_center
        return np.array(
            [
                [s, 0.0, s * (shift - cx) + dx - shift],
                [0.0, s, s * (shift - cy) + dy - shift],
                [0.0, 0.0, 1.0],
            ]
        )

    def intrinsics(self, K: ArrayLike, *, pixel_center: float = 0.5) -> np.ndarray:
        """The camera matrix that stays consistent with the warped image.

        Parameters
        ----------
        K : (..., 3, 3) array_like
            Pinhole intrinsics ``[[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` of the
            input image, in pixels.
        pixel_center : float, optional
            Convention of ``K``'s principal point: 0.5 when the first pixel's
            centre is at 0.5 (FaceLift / GS-LRM, rays through ``u + 0.5``);
            0.0 for classic OpenCV.

        Returns
        -------
        (..., 3, 3) float64 ndarray
            ``A @ K`` with ``A = self.matrix(pixel_center=pixel_center)``:
            ``fx' = scale * fx``, ``fy' = scale * fy`` and the principal point
            moved by the same affine map as the pixels, so a 3D point projects
            in the output exactly where its image moved.

        Raises
        ------
        ValueError
            If ``K`` is not (..., 3, 3) or its last row is not ``[0, 0, 1]``.

        Examples
        --------
        >>> import numpy as np
        >>> t = ScaleTransform(scale=2.0, src_center=(10, 10), dst_center=(16, 16),
        ...                    input_shape=(32, 32), output_shape=(32, 32))
        >>> K = np.array([[100.0, 0, 16], [0, 100.0, 16], [0, 0, 1]])
        >>> t.intrinsics(K)[:2]
        array([[200.,   0.,  28.],
               [  0., 200.,  28.]])
        """
        K = np.asarray(K, dtype=np.float64)
        if K.shape[-2:] != (3, 3):
            raise ValueError(f"K must be a 3x3 camera matrix (or a stack of them); got shape {K.shape}")
        if not np.allclose(K[..., 2, :], [0.0, 0.0, 1.0]):
            raise ValueError(
                f"K's last row must be [0, 0, 1]; got {K[..., 2, :].tolist()}. Normalise K by K[2, 2] first."
            )
        return self.matrix(pixel_center=pixel_center) @ K

    def apply(self, image: ArrayLike, **warp_options: Any) -> np.ndarray:
        """Warp ``image`` with this transform: ``pixscale.warp(image, self, **warp_options)``.

        Parameters
        ----------
        image : ndarray
            An image of shape ``input_shape`` (see :func:`pixscale.warp`).
        **warp_options
            ``premultiplied``, ``background`` and ``filter`` of :func:`pixscale.warp`.

        Returns
        -------
        ndarray
            The warped image, of shape ``output_shape``.

        Examples
        --------
        >>> import numpy as np
        >>> img = np.zeros((8, 8), np.uint8); img[2:4, 2:4] = 255
        >>> ScaleTransform(1.0, (3, 3), (5, 5), (8, 8), (8, 8)).apply(img)[4:6, 4:6]
        array([[255, 255],
               [255, 255]], dtype=uint8)
        """
        from ._warp import warp

        return warp(image, self, **warp_options)

    def to_dict(self) -> dict[str, Any]:
        """The transform as plain JSON-ready Python values.

        Returns
        -------
        dict
            Every field (tuples as lists, the measurement as its own dict) and
            ``on_target``.

        Examples
        --------
        >>> ScaleTransform(2.0, (1, 1), (2, 2), (4, 4), (4, 4)).to_dict()["dst_center"]
        [2.0, 2.0]
        """
        return {
            "scale": self.scale,
            "src_center": list(self.src_center),
            "dst_center": list(self.dst_center),
            "input_shape": list(self.input_shape),
            "output_shape": list(self.output_shape),
            "limited": self.limited,
            "target": self.target,
            "achieved_ratio": self.achieved_ratio,
            "tolerance": self.tolerance,
            "on_target": self.on_target,
            "wanted_scale": self.wanted_scale,
            "shift": None if self.shift is None else list(self.shift),
            "cut_pixels": self.cut_pixels,
            "filter": self.filter,
            "measurement": None if self.measurement is None else self.measurement.to_dict(),
        }
