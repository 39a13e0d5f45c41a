"""``mask=`` on the GPU: an RGB (or gray) device image and its object mask as one image whose alpha is the mask.

:func:`pixscale._validate.with_mask` is the CPU's (and the specification):
the mask's range decides how it is read (:func:`~pixscale._validate.mask_factor`:
bool; integers 0-255, or only 0 and 1; floats in [0, 1]), then the image
gains the scaled mask as its alpha channel.  Here the range of each view's
mask is measured on the device (three numbers a view come back to the host),
and the image with its alpha is written by one kernel into a new device
array; the rest of the GPU path then takes it as any RGBA image.

The mask may be a device array (any kind :mod:`pixscale._gpu` takes) or a
NumPy array, which is copied to the device (it is the caller's host data;
the image never leaves the device).
"""

import numpy as np

from ._device import on_device
from ._gpu_arrays import Device, batch_of_one, numba_cuda
from ._validate import mask_factor

#: The dtypes of masks the kernels read (float16 is not among them).
MASK_DTYPES = ("bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float32", "float64")


def device_mask(mask, device):
    """``mask`` as a Numba device array on ``device``'s GPU: a view of a device mask, or a copy of a host one."""
    if on_device(mask):
        return Device(mask).array
    if isinstance(mask, (list, tuple)) and any(map(on_device, mask)):
        raise ValueError(
            f"`mask=` is a {type(mask).__name__} of device masks; stack them on the device into one (N, H, W) array"
        )
    return numba_cuda().to_device(np.ascontiguousarray(np.asarray(mask)), stream=device.stream)


def _views_of(m, n, shape, where):
    """The (N, H, W) mask of a batch of ``n`` views of ``shape`` (H, W): one (H, W) mask is every view's."""
    if m.ndim == 3 and m.shape[2] == 1 and tuple(m.shape[:2]) == shape:
        m = m[:, :, 0]
    if m.ndim == 2 and tuple(m.shape) == shape:
        return m, True
    if m.ndim == 3 and tuple(m.shape) == (n, *shape):
        return m, False
    want = f"(H, W) = {shape}" + (f" or (N, H, W) = {(n, *shape)}" if n > 1 else "")
    raise ValueError(
        f"`mask=` has shape {tuple(m.shape)}; {where} on the GPU needs {want}, the images' height and width"
    )


def with_mask(kernels, device, src, mask, where):
    """``src`` (N, H, W, C), C in (1, 3), with ``mask`` as its alpha: a new (N, H, W, C + 1) device array.

    Raises as :func:`pixscale._validate.with_mask` does for a mask's shape,
    dtype or values (the view named for a batch).
    """
    if src.ndim != 4 or src.shape[3] not in (1, 3):
        raise ValueError(
            f"`mask=` is the object mask of an RGB (or gray) image without alpha, (H, W, 3) (with N in front for "
            f"a batch); got shape {tuple(src.shape)}. Leave `mask=` out for an image with an alpha channel"
        )
    n, h, w, c = src.shape
    m, shared = _views_of(device_mask(mask, device), n, (h, w), where)
    if m.dtype.name not in MASK_DTYPES:
        raise TypeError(f"`mask=` has dtype {m.dtype}; the GPU path takes {', '.join(MASK_DTYPES)} masks")
    k = 1 if shared else n
    if m.dtype == np.bool_:
        factors = [mask_factor(m.dtype, 0, 0, True, src.dtype)] * k
    else:
        ranges = kernels.mask_range(batch_of_one(m) if shared else m, device.stream).copy_to_host(stream=device.stream)
        if device.stream:
            device.stream.synchronize()
        factors = []
        for i, (lo, hi, bad) in enumerate(ranges.tolist()):
            if hi < lo:  # an empty mask
                lo = hi = 0.0
            if m.dtype.kind != "f":
                lo, hi = int(lo), int(hi)
            try:
                factors.append(mask_factor(m.dtype, lo, hi, not bad, src.dtype))
            except (ValueError, TypeError) as exc:
                if k == 1:
                    raise
                raise type(exc)(f"image {i} of the batch: {exc}") from exc
    cuda = numba_cuda()
    factor = cuda.to_device(np.array(factors * (n if shared else 1), np.float64), stream=device.stream)
    if shared:
        m = batch_of_one(m, n)
    out = device.empty((n, h, w, c + 1), src.dtype)
    return kernels.attach_alpha(src, m, factor, out, device.stream)
