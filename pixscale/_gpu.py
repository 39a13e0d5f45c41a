"""The GPU path: images on a CUDA device in, the caller's kind of device array out, without a copy.

The public functions (:func:`pixscale.normalize`, :func:`~pixscale.measure`,
:func:`~pixscale.plan`, :func:`~pixscale.warp`,
:func:`~pixscale.normalize_batch` and :class:`~pixscale.Normalizer`) come here
when :func:`pixscale._device.on_device` says their image lives on a GPU.

* In: anything with ``__cuda_array_interface__`` (CuPy arrays, torch CUDA
  tensors, Numba device arrays), a ``__dlpack__`` on a CUDA device, or a
  Numba device array, viewed as a Numba device array without a copy.  The
  kernels run on the caller's stream: torch's current stream for a tensor,
  CuPy's for a CuPy array (only when that library is imported already), else
  the stream the array interface names, else the default stream.
* Out: the caller's kind on the caller's device: CuPy in, CuPy out; torch in,
  torch out; a Numba device array for anything else (a DLPack-only array
  included: wrap it with your library's ``from_dlpack``).
* Planning is the CPU's code (:mod:`pixscale._gpu_plan`): the same
  :class:`~pixscale.Measurement` and :class:`~pixscale.ScaleTransform`.  Only
  each view's seven measured numbers, and exact mode's probe counts, come back
  to the host; image data never does.

``mask=`` (an RGB image's object mask, on the device or the host) becomes
the image's alpha on the device (:mod:`pixscale._gpu_mask`); a
``background`` colour is composited on the device after the warp.  What the GPU
path cannot do is refused with an error that names the option and the fix
(usually: pass a NumPy array), never done by a silent copy to the host:
``min_component``/``keep``, ``erase_specks`` (both need a labelling of
connected components), float64 images and images
without 3 or 4 channels where a warp is asked (and a filter the kernels lack:
``FILTERS`` of :mod:`pixscale.kernels.gpu` has them all).  One documented copy: planning
with ``filter="lanczos4"`` or ``"auto"`` copies each view's alpha to the host
once (Numba copies a strided channel's span: the RGBA view's bytes), for the
box of the faint rim connected to the object (a labelling of components,
:func:`pixscale._plan._support`); the result stays on the device, and
bilinear and area plan without any copy.  Float images are not
checked for values outside [0, 1] or NaN on the device (the CPU path checks
them): that would be a pass over every pixel.
"""

import numpy as np

from ._device import on_device as _on_device
from ._gpu_arrays import Device, batch_of_one, library_of, numba_cuda
from ._gpu_mask import with_mask
from ._gpu_plan import measure_views, plan_group_views, plan_views
from ._transform import ScaleTransform
from ._validate import threshold_value
from ._warp import background_colour

#: The dtypes the GPU kernels read and write.
DTYPES = (np.uint8, np.uint16, np.float32)
_FIX = "or pass a NumPy array (copy it to the host) to use the CPU path"


def _kernels():
    """The CUDA kernels, :mod:`pixscale.kernels.gpu` (imported here only: it compiles nothing until a launch)."""
    from .kernels import gpu  # type: ignore[attr-defined,unused-ignore]  # gpukern's module

    return gpu


# --- What the GPU path takes ---------------------------------------------------------------------


def _check_dtype(array):
    if array.dtype.type not in DTYPES:
        raise TypeError(
            f"the GPU path takes uint8, uint16 or float32 images; got {array.dtype}. Convert it on the device "
            f"(e.g. to float32) {_FIX}"
        )


def alpha_views(array, where):
    """The (N, H, W) alpha of an (N, H, W) alpha or (N, H, W, C) batch with C in (1, 2, 4) (alpha last)."""
    _check_dtype(array)
    if array.ndim == 3:
        return array
    if array.ndim == 4 and array.shape[3] in (1, 2, 4):
        return array[:, :, :, array.shape[3] - 1]
    raise ValueError(
        f"{where} on the GPU needs an image with an alpha channel, (H, W, 4), (H, W, 2) or an alpha mask (H, W) "
        f"(with N in front for a batch); got shape {tuple(array.shape)}. Add an alpha channel on the device, "
        f"or pass the object mask as `mask=`"
    )


def check_warp_source(array, where):
    """An (N, H, W, C) batch the warp kernel takes: C in (3, 4) and a GPU dtype."""
    _check_dtype(array)
    if array.ndim != 4 or array.shape[3] not in (3, 4):
        raise ValueError(
            f"{where} on the GPU warps (H, W, 4) RGBA or (H, W, 3) RGB images (with N in front for a batch); "
            f"got shape {tuple(array.shape)}. Gray images: repeat the gray channel on the device, {_FIX}"
        )


def refuse(options, *, where):
    """A ``ValueError`` for an option the GPU path cannot honour: it names the option and the fix."""
    bad = None
    if options.filter not in _kernels().FILTERS:
        bad = f"`filter={options.filter!r}` (the GPU has {', '.join(map(repr, _kernels().FILTERS))})"
    elif options.object_mask.filters:
        bad = "`min_component=` and `keep=` (the component filter)"
    elif getattr(options, "erase_specks", False):
        bad = "`erase_specks=True`"
    if bad is not None:
        raise ValueError(f"{where} on the GPU does not take {bad}; leave it out, {_FIX}")


def _with_mask(device, src, mask, where):
    """``src`` (N, H, W, C) itself, or with ``mask`` as its alpha (see :mod:`pixscale._gpu_mask`)."""
    if mask is None:
        return src
    _check_dtype(src)
    return with_mask(_kernels(), device, src, mask, where)


def _background(value, src):
    """The ``background`` colour for warps of ``src`` (N, H, W, C), checked as the CPU checks it: a (3,) float64
    NumPy array, or None for none."""
    return None if value is None else background_colour(value, src.dtype, tuple(src.shape[1:]))


def _composite(device, out, colour):
    """``out`` (N, H, W, 4) composited onto ``colour`` (of :func:`_background`) in place, on the device."""
    if colour is None:
        return out
    return _kernels().composite_batch(out, numba_cuda().to_device(colour, stream=device.stream), device.stream)


# --- The public functions on the device ----------------------------------------------------------


def warp_views(device, src, transforms, premultiplied, filter, out=None):
    """Warp each view of ``src`` (N, H, W, C) by its transform in one launch; returns ``out`` (N, Ho, Wo, C).

    ``filter`` is a name of :data:`pixscale._filters.FILTERS` (``"auto"`` and
    ``"area"`` resolved per view by its scale, on the device).
    """
    cuda = numba_cuda()
    ho, wo = transforms[0].output_shape
    if out is None:
        out = device.empty((len(transforms), ho, wo, src.shape[3]), src.dtype)
    params = np.array([(t.scale, *t.src_center, *t.dst_center) for t in transforms], np.float64)
    premult = bool(premultiplied) and src.shape[3] == 4
    _kernels().warp_batch(src, out, cuda.to_device(params, stream=device.stream), premult, device.stream, filter)
    return out


def measure(image, rule, mask):
    """:func:`pixscale.measure` of a device image (``rule`` an :class:`~pixscale.ObjectMask`)."""
    if rule.filters:
        what = "`min_component=` and `keep=` (the component filter)"
        raise ValueError(f"measure on the GPU does not take {what}; leave it out, {_FIX}")
    device = Device(image)
    with device.selected():
        alpha = alpha_views(_with_mask(device, batch_of_one(device.array), mask, "measure"), "measure")
        return measure_views(_kernels(), alpha, threshold_value(alpha.dtype, rule.threshold), device.stream)[0]


def plan(image, options, mask):
    """:func:`pixscale.plan` of a device image with its checked :class:`~pixscale.Options`."""
    refuse(options, where="plan")
    device = Device(image)
    with device.selected():
        alpha = alpha_views(_with_mask(device, batch_of_one(device.array), mask, "plan"), "plan")
        return plan_views(_kernels(), alpha, options, device.stream)[0]


def plan_group(images, options):
    """:func:`pixscale.plan_group` of views on the device (every view there)."""
    refuse(options, where="plan_group")
    if not all(map(_on_device, images)):
        raise ValueError(f"plan_group on the GPU needs every view on the device; some are not. Move them there, {_FIX}")
    devices = [Device(image) for image in images]
    if len({d.gpu for d in devices}) > 1:
        raise ValueError(f"plan_group on the GPU needs every view on one device; they are on {len(devices)}")
    with devices[0].selected():
        alphas = [alpha_views(batch_of_one(d.array), "plan_group") for d in devices]
        return plan_group_views(_kernels(), alphas, options, devices[0].stream)


def warp(image, transform, premultiplied, background_, filter):
    """:func:`pixscale.warp` of a device image: the caller's kind of device array."""
    if not isinstance(transform, ScaleTransform):
        raise TypeError(
            f"transform must be a pixscale.ScaleTransform (from pixscale.plan); got {type(transform).__name__}"
        )
    filter = transform.filter if filter is None else filter
    if filter not in _kernels().FILTERS:
        raise ValueError(
            f"warp on the GPU does not take `filter={filter!r}` (the GPU has "
            f"{', '.join(map(repr, _kernels().FILTERS))}); pass `filter='bilinear'`, {_FIX}"
        )
    device = Device(image)
    src = batch_of_one(device.array)
    check_warp_source(src, "warp")
    colour = _background(background_, src)
    if tuple(src.shape[1:3]) != transform.input_shape:
        raise ValueError(
            f"the transform was planned for images of shape (H, W) = {transform.input_shape}; "
            f"got an image of shape {tuple(image.shape)}. Plan on an image of the same size."
        )
    with device.selected():
        out = warp_views(device, src, [transform], premultiplied, filter)
        return device.give(_composite(device, out, colour)[0])


def _normalize(device, src, options, views_per_launch=None):
    """Plan and warp every view of ``src`` (N, H, W, 4) on ``device``: ``(out, transforms)``."""
    check_warp_source(src, "normalize")
    if src.shape[3] != 4:
        raise ValueError(
            f"normalize on the GPU needs (H, W, 4) RGBA images (alpha last); got shape {tuple(src.shape)}. "
            f"Add the object mask as an alpha channel on the device, {_FIX}"
        )
    colour = _background(options.background, src)
    with device.selected():
        alpha = alpha_views(src, "normalize")
        transforms = plan_views(_kernels(), alpha, options, device.stream, views_per_launch)
        out = warp_views(device, src, transforms, options.premultiplied, options.filter)
        return _composite(device, out, colour), transforms


def normalize(image, options, mask):
    """:func:`pixscale.normalize` of a device image (H, W, 4): the caller's kind of device array."""
    refuse(options, where="normalize")
    device = Device(image)
    with device.selected():
        src = _with_mask(device, batch_of_one(device.array), mask, "normalize")
    out, _ = _normalize(device, src, options)
    with device.selected():
        return device.give(out[0])


def normalize_batch(images, options, mask, threads):
    """:func:`pixscale.normalize_batch` of a device batch (N, H, W, 4): every view in one launch per step.

    ``threads`` is not used: no thread plans a view here, every view's exact
    search shares each probe launch (:func:`pixscale._gpu_search.plan_alone`).
    """
    refuse(options, where="normalize_batch")
    if isinstance(images, (list, tuple)):
        raise ValueError(
            f"normalize_batch on the GPU takes one (N, H, W, 4) device array; got a {type(images).__name__} of "
            f"{len(images)} images. Stack them on the device first (e.g. torch.stack), {_FIX}"
        )
    device = Device(images)
    if device.array.ndim != 4:
        raise ValueError(
            f"a batch on the GPU must have shape (N, H, W, 4); got shape {tuple(device.array.shape)}. "
            f"Stack the images on the device first, {_FIX}"
        )
    if device.array.shape[0] == 0:
        n, h, w, c = device.array.shape
        c += mask is not None
        with device.selected():
            return device.give(device.empty((0, *(options.output_shape or (h, w)), c), device.array.dtype))
    with device.selected():
        src = _with_mask(device, device.array, mask, "normalize_batch")
    out, _ = _normalize(device, src, options)
    with device.selected():
        return device.give(out)


def normalizer_apply(options, image, mask, *, plan_only=False):
    """:class:`~pixscale.Normalizer` of a device image: ``(image, transform)``, or the transform alone.

    A torch tensor is (C, H, W), as on the CPU, and comes back (C, H, W)
    contiguous (its channels moved by torch, on the device); any other device
    array is (H, W, C).
    """
    refuse(options, where="Normalizer")
    channels_first = library_of(image) == "torch"
    if channels_first and len(image.shape) != 3:
        raise ValueError(f"a tensor image must be (C, H, W); got shape {tuple(image.shape)}")
    device = Device(image.permute(1, 2, 0) if channels_first else image)
    with device.selected():
        src = _with_mask(device, batch_of_one(device.array), mask, "Normalizer")
    if plan_only:
        with device.selected():
            alpha = alpha_views(src, "Normalizer.plan")
            return plan_views(_kernels(), alpha, options, device.stream)[0]
    out, transforms = _normalize(device, src, options)
    with device.selected():
        result = device.give(out[0])
    return (result.permute(2, 0, 1).contiguous() if channels_first else result), transforms[0]
