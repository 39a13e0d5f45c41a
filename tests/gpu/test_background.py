"""``background=`` on the GPU: the warped colour composited onto a colour on the device, as the CPU does it."""

import os
import sys

import numpy as np
import pytest

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # tests/gpu/conftest.py sets it: 0 where a GPU is present
if "numba.cuda" not in sys.modules:  # numba reads it when numba.cuda is first imported (numba may be imported already)
    import numba

    numba.core.config.reload_config()
cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install 'pixscale[cuda]')")
if not cuda.is_available():
    pytest.skip("numba.cuda finds no usable CUDA device and the simulator is off", allow_module_level=True)

import pixscale  # noqa: E402
from pixscale._warp import composite  # noqa: E402
from pixscale.kernels import gpu  # noqa: E402


def rgba(rng, dtype, shape=(9, 11)):
    top = 1.0 if np.dtype(dtype).kind == "f" else np.iinfo(dtype).max
    img = rng.random((*shape, 4)) * top
    img[..., 3] = np.where(rng.random(shape) < 0.3, top, img[..., 3])  # opaque, and soft, and clear pixels
    img[0, :, 3] = 0
    return (img if np.dtype(dtype).kind == "f" else np.floor(img)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("colour", ["white", (10, 200, 3), 0.25])
def test_the_composite_kernel_is_the_cpus_bit_for_bit(rng, dtype, colour):
    img = rgba(rng, dtype)
    if isinstance(colour, tuple) and np.dtype(dtype).kind == "f":
        colour = tuple(c / 255 for c in colour)
    want = composite(img, colour)
    from pixscale._warp import background_colour

    bg = cuda.to_device(background_colour(colour, img.dtype, img.shape))
    d = cuda.to_device(img[None])
    np.testing.assert_array_equal(gpu.composite_batch(d, bg).copy_to_host()[0], want)


def test_normalize_and_warp_onto_a_background_are_the_cpus(rng):
    img = np.zeros((12, 14, 4), np.uint8)
    img[3:9, 4:11] = rng.integers(0, 256, (6, 7, 4))
    img[3:9, 4:11, 3] = 255
    opts = pixscale.Options(target=0.5, exact=False, background="white")
    want = pixscale.normalize(img, options=opts)
    np.testing.assert_array_equal(pixscale.normalize(cuda.to_device(img), options=opts).copy_to_host(), want)
    t = pixscale.plan(img, options=opts)
    got = pixscale.warp(cuda.to_device(img), t, background=(0, 10, 20)).copy_to_host()
    np.testing.assert_array_equal(got, pixscale.warp(img, t, background=(0, 10, 20)))


def test_a_background_the_cpu_refuses_is_refused_with_its_message():
    img = np.zeros((6, 6, 3), np.uint8)
    img[2:4, 2:4] = 255
    t = pixscale.plan(img, mask=img[..., 0] > 0, target=0.5)
    for image in (img, cuda.to_device(img)):
        with pytest.raises(ValueError, match="needs an image with an alpha channel"):
            pixscale.warp(image, t, background="white")
    rgba_img = np.dstack([img, img[..., :1]])
    with pytest.raises(ValueError, match="values must lie in \\[0, 255\\]"):
        pixscale.normalize(cuda.to_device(rgba_img), background=300, target=0.5)
