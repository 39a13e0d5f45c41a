"""``mask=`` on the GPU (pixscale._gpu_mask, kernels/gpu/mask.py) against the CPU's ``with_mask`` and API.

The images are tiny: the simulator runs each CUDA thread in Python.
"""

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
from pixscale import _gpu_mask  # noqa: E402
from pixscale._gpu_arrays import Device  # noqa: E402
from pixscale._validate import with_mask  # noqa: E402
from pixscale.kernels import gpu  # noqa: E402

SHAPE = (10, 12)


def image(rng, dtype, n=None, channels=3):
    shape = ((n,) if n else ()) + SHAPE + (channels,)
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)


def masks(rng):
    """One mask of each kind with_mask reads, with values where rounding half up matters."""
    y, x = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]] + 0.5
    soft = np.clip(4.5 - np.hypot(x - 6.2, y - 4.9), 0, 1)
    halves = (np.arange(SHAPE[0] * SHAPE[1]).reshape(SHAPE) % 256 + 0.5) / 255  # m * 255 near x.5
    return {
        "bool": soft > 0.5,
        "binary uint8": (soft > 0.3).astype(np.uint8),  # only 0 and 1: read as a binary mask
        "uint8": np.floor(soft * 255).astype(np.uint8),
        "int32": np.floor(soft * 200).astype(np.int32),
        "float32": np.clip(halves, 0, 1).astype(np.float32),
        "float64": np.clip(halves, 0, 1),
    }


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_the_image_with_its_mask_is_the_cpus_bit_for_bit(rng, dtype):
    img = image(rng, dtype)
    for name, m in masks(rng).items():
        device = Device(cuda.to_device(img))
        got = _gpu_mask.with_mask(gpu, device, cuda.to_device(img[None]), m, "normalize").copy_to_host()[0]
        np.testing.assert_array_equal(got, with_mask(img, m), err_msg=name)


def test_a_batchs_masks_are_read_each_on_its_own(rng):
    """One view's integer mask holds only 0 and 1 (binary), another's 0-255: as with_mask reads each."""
    imgs = image(rng, np.uint8, n=2)
    m = masks(rng)
    stack = np.stack([m["binary uint8"], m["uint8"]])
    device = Device(cuda.to_device(imgs))
    got = _gpu_mask.with_mask(gpu, device, device.array, cuda.to_device(stack), "normalize_batch").copy_to_host()
    for i in range(2):
        np.testing.assert_array_equal(got[i], with_mask(imgs[i], stack[i]))
    shared = _gpu_mask.with_mask(gpu, device, device.array, m["float32"], "normalize_batch").copy_to_host()
    for i in range(2):
        np.testing.assert_array_equal(shared[i], with_mask(imgs[i], m["float32"]))


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        (np.full(SHAPE, 300, np.int16), ValueError, "holds integers from 300 to 300"),
        (np.full(SHAPE, -1, np.int8), ValueError, "holds integers from -1 to -1"),
        (np.full(SHAPE, np.nan), ValueError, "outside \\[0, 1\\] or not finite"),
        (np.full(SHAPE, 1.5, np.float32), ValueError, "outside \\[0, 1\\] or not finite"),
        (np.zeros(SHAPE, np.complex64), TypeError, "has dtype complex64"),
        (np.zeros((3, 4), bool), ValueError, "has shape \\(3, 4\\)"),
    ],
)
def test_a_mask_the_cpu_refuses_is_refused_with_its_message(rng, mask, error, match):
    img = image(rng, np.uint8)
    with pytest.raises(error, match=match):
        pixscale.normalize(img, mask=mask, target=0.4)
    with pytest.raises(error, match=match):
        pixscale.normalize(cuda.to_device(img), mask=cuda.to_device(mask), target=0.4)


def test_a_bad_mask_in_a_batch_is_named(rng):
    stack = np.ones((2, *SHAPE), np.int16)
    stack[1, 0, 0] = 256
    with pytest.raises(ValueError, match="image 1 of the batch: `mask=` holds integers from 1 to 256"):
        pixscale.normalize_batch(cuda.to_device(image(rng, np.uint8, n=2)), mask=cuda.to_device(stack), target=0.4)
    with pytest.raises(ValueError, match="stack them on the device"):
        pixscale.normalize_batch(cuda.to_device(image(rng, np.uint8, n=2)), mask=[cuda.to_device(stack[0])] * 2)


@pytest.mark.parametrize("exact", [False, True])
def test_normalize_measure_and_plan_with_a_mask_are_the_cpus(rng, exact):
    img = image(rng, np.uint16)
    m = masks(rng)["uint8"]
    opts = pixscale.Options(target=0.45, exact=exact)
    want = pixscale.normalize(img, mask=m, options=opts)
    got = pixscale.normalize(cuda.to_device(img), mask=cuda.to_device(m), options=opts).copy_to_host()
    assert got.shape == want.shape == (*SHAPE, 4)
    np.testing.assert_array_equal(got, want)  # bilinear: the same bits
    t, t_cpu = pixscale.plan(cuda.to_device(img), mask=m, options=opts), pixscale.plan(img, mask=m, options=opts)
    assert (t.scale, t.dst_center, t.achieved_ratio) == (t_cpu.scale, t_cpu.dst_center, t_cpu.achieved_ratio)
    assert pixscale.measure(cuda.to_device(img), mask=m) == pixscale.measure(img, mask=m)


def test_normalize_batch_with_one_mask_for_every_view(rng):
    imgs = image(rng, np.uint8, n=2)
    m = masks(rng)["bool"]
    want = pixscale.normalize_batch(imgs, mask=m, target=0.4, exact=False)
    got = pixscale.normalize_batch(cuda.to_device(imgs), mask=cuda.to_device(m), target=0.4, exact=False)
    np.testing.assert_array_equal(got.copy_to_host(), want)
    empty = pixscale.normalize_batch(cuda.to_device(imgs[:0]), mask=m, target=0.4)
    assert empty.shape == (0, *SHAPE, 4)


def test_a_mask_with_an_image_that_has_alpha_is_refused(rng):
    rgba = image(rng, np.uint8, channels=4)
    m = masks(rng)["bool"]
    with pytest.raises(ValueError):
        pixscale.normalize(rgba, mask=m)
    with pytest.raises(ValueError, match="Leave `mask=` out for an image with an alpha channel"):
        pixscale.normalize(cuda.to_device(rgba), mask=m)


@pytest.mark.parametrize("filter", ["lanczos4", "area"])
def test_a_masked_image_with_a_tap_filter_is_the_cpus_within_one_lsb(rng, filter):
    img = image(rng, np.uint8)
    m = masks(rng)["uint8"] > 100
    opts = pixscale.Options(target=0.6, exact=False, filter=filter, output_shape=(8, 9))
    want = pixscale.normalize(img, mask=m, options=opts)
    got = pixscale.normalize(cuda.to_device(img), mask=cuda.to_device(m), options=opts).copy_to_host()
    assert got.shape == want.shape
    assert np.abs(got.astype(np.int64) - want).max() <= 1
