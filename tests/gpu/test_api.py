"""The GPU path of the public API (pixscale._gpu) against the CPU path, under Numba's CUDA simulator.

The tests run on the kernels of :mod:`pixscale.kernels.gpu`; exact mode's
agreement in every dtype also runs on a stand-in of the kernel contract built
from the CPU kernels, which checks the plumbing alone (arrays in and out, the
planning, the probes' rounds) in the fast loop.  The images are tiny: the
simulator runs each CUDA thread in Python.
"""

import importlib
import os
import subprocess
import sys
import types

import numpy as np
import pytest

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # tests/gpu/conftest.py sets it: 0 where a GPU is present
if "numba.cuda" not in sys.modules:  # numba reads it when numba.cuda is first imported (numba may be imported already)
    import numba

    numba.core.config.reload_config()
cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install 'pixscale[cuda]')")
if not cuda.is_available():
    pytest.skip("numba.cuda finds no usable CUDA device and the simulator is off", allow_module_level=True)

from numba import config as numba_config  # noqa: E402

import pixscale  # noqa: E402
from pixscale import _device, _gpu, _gpu_arrays, _gpu_plan  # noqa: E402
from pixscale._gpu_arrays import batch_of_one  # noqa: E402
from pixscale._transform import ScaleTransform  # noqa: E402
from pixscale._warp import kernel_constants  # noqa: E402
from pixscale.kernels import kernels as cpu_kernels  # noqa: E402

SIMULATED = bool(numba_config.ENABLE_CUDASIM)


def _host(array):
    return np.ascontiguousarray(array.copy_to_host())


class StandIn:
    """The four names of the GPU kernel contract, computed on the host by the CPU kernels (tests only)."""

    FILTERS = ("bilinear",)

    @staticmethod
    def measure_batch(alpha, thr, stream=0):
        views = _host(alpha)
        out = np.zeros((len(views), 7), np.float64)
        for i, a in enumerate(views):
            stats = np.empty(7, np.int64)
            cpu_kernels().measure_alpha(a, thr, stats)
            out[i] = stats
        return cuda.to_device(out)

    @staticmethod
    def warp_batch(src, out, params, premult, stream=0, filter="bilinear"):
        views, p = _host(src), params.copy_to_host()
        result = np.empty(out.shape, out.dtype)
        for i, v in enumerate(views):
            t = ScaleTransform(
                scale=p[i, 0],
                src_center=tuple(p[i, 1:3]),
                dst_center=tuple(p[i, 3:5]),
                input_shape=v.shape[:2],
                output_shape=out.shape[1:3],
            )
            result[i] = pixscale.warp(v, t, premultiplied=bool(premult), filter=filter)
        out.copy_to_device(result)
        return out

    @staticmethod
    def count_batch(alpha, thr, params, out_h, out_w, stream=0, filter="bilinear"):
        assert filter == "bilinear"
        views, p = _host(alpha), params.copy_to_host()
        counts = []
        for row in p:
            a = views[int(row[0])]
            r0, r1, c0, c1 = (int(v) for v in row[6:10]) if len(row) == 10 else (0, out_h, 0, out_w)
            args = (a, a.dtype.type(thr), *row[1:6], r0, r1, c0, c1, a.dtype.kind == "u", kernel_constants(a.dtype))
            counts.append(cpu_kernels().warp_count(*args))
        return cuda.to_device(np.array(counts, np.int64))


def _real_kernels():
    try:
        return importlib.import_module("pixscale.kernels.gpu")
    except ImportError:
        return None


@pytest.fixture(params=["kernels"])
def kernels(request, monkeypatch):
    """The kernels the GPU path launches: pixscale.kernels.gpu, or (asked for by a test) the stand-in."""
    k = StandIn if request.param == "stand-in" else _real_kernels()
    if k is None:
        pytest.skip("pixscale.kernels.gpu is not there yet")
    monkeypatch.setattr(_gpu, "_kernels", lambda: k)
    return k


# --- Images and device arrays of several kinds ---------------------------------------------------


def blob(rng, dtype=np.uint8, shape=(20, 24), channels=4, radius=5.0, center=(11.3, 9.6)):
    """A soft disc of random colour on a transparent canvas, in ``dtype``'s scale."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w] + 0.5
    a = np.clip(radius + 0.5 - np.hypot(x - center[0], y - center[1]), 0, 1)
    top = 1.0 if np.dtype(dtype).kind == "f" else np.iinfo(dtype).max
    colour = rng.uniform(0.2, 1.0, size=(h, w, 3))
    img = np.concatenate([colour * (a[..., None] > 0), a[..., None]], axis=2)[..., :channels] * top
    if np.dtype(dtype).kind != "f":
        img = np.floor(img + 0.5)
    return img.astype(dtype)


class CAIArray:
    """A test double: device memory seen only through ``__cuda_array_interface__`` (a host pointer in the simulator)."""

    def __init__(self, array):
        self.host = np.asarray(array)
        self.device = None if SIMULATED else cuda.to_device(self.host)

    @property
    def __cuda_array_interface__(self):
        if self.device is not None:
            return self.device.__cuda_array_interface__
        a = self.host.__array_interface__
        return {"shape": a["shape"], "strides": a["strides"], "typestr": a["typestr"], "data": a["data"], "version": 3}

    @property
    def shape(self):
        return self.host.shape


class DLPackArray:
    """A test double: an array exported by DLPack that says it lives on CUDA device 0 (kDLCUDA)."""

    def __init__(self, array, device=(2, 0)):
        self.host, self.device = np.asarray(array), device

    def __dlpack__(self, **kw):
        return self.host.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self.device

    def __array__(self, dtype=None, copy=None):
        return self.host

    @property
    def shape(self):
        return self.host.shape


def on_device(kind, array):
    if kind == "numba":
        return cuda.to_device(array)
    if kind == "cai":
        return CAIArray(array)
    if not SIMULATED:
        pytest.skip("the DLPack double exports host memory: simulator only")
    return DLPackArray(array)


def host(result):
    """A device result (a Numba device array here) back on the host, for the comparison."""
    assert getattr(type(result), "__cuda_ndarray__", False), type(result)
    return result.copy_to_host()


def assert_same_plan(t_gpu, t_cpu):
    assert t_gpu.scale == pytest.approx(t_cpu.scale, rel=1e-9)
    assert t_gpu.src_center == t_cpu.src_center
    assert t_gpu.dst_center == pytest.approx(t_cpu.dst_center, rel=1e-9, abs=1e-9)
    assert (t_gpu.input_shape, t_gpu.output_shape) == (t_cpu.input_shape, t_cpu.output_shape)
    assert t_gpu.measurement == t_cpu.measurement
    assert t_gpu.achieved_ratio == t_cpu.achieved_ratio
    K = np.array([[30.0, 0, 12], [0, 31.0, 10], [0, 0, 1]])
    np.testing.assert_allclose(t_gpu.intrinsics(K), t_cpu.intrinsics(K), rtol=1e-9)


def assert_close_pixels(got, want):
    """Within 1 LSB of the CPU's pixels (float32: one unit in the last place of 1.0), and mostly equal."""
    assert got.shape == want.shape and got.dtype == want.dtype
    lsb = np.finfo(np.float32).eps if want.dtype.kind == "f" else 1
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert diff.max() <= lsb, diff.max()
    assert np.count_nonzero(diff) <= 0.02 * diff.size


# --- Agreement -----------------------------------------------------------------------------------


def _normalize_and_plan(image, opts):
    """``(output, transform)`` of one normalization: one exact search gives both (a Normalizer's body)."""
    return pixscale.Normalizer(options=opts)._apply(image, None)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_normalize_agrees_with_the_cpu(kernels, rng, dtype, premultiplied):
    img = blob(rng, dtype)
    opts = pixscale.Options(target=0.45, exact=False, premultiplied=premultiplied)
    got, t = _normalize_and_plan(cuda.to_device(img), opts)
    want, t_cpu = _normalize_and_plan(img, opts)
    assert_close_pixels(host(got), want)
    assert_same_plan(t, t_cpu)


# Exact mode's search launches a probe per step, each a few hundred simulated threads: seconds a case.
@pytest.mark.parametrize("kernels", ["stand-in", pytest.param("kernels", marks=pytest.mark.slow)], indirect=True)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_exact_mode_agrees_with_the_cpu(kernels, rng, dtype, premultiplied):
    img = blob(rng, dtype)
    opts = pixscale.Options(target=0.45, exact=True, premultiplied=premultiplied)
    got, t = _normalize_and_plan(cuda.to_device(img), opts)
    want, t_cpu = _normalize_and_plan(img, opts)
    assert_close_pixels(host(got), want)
    assert_same_plan(t, t_cpu)


@pytest.mark.parametrize("kind", ["numba", "cai", "dlpack"])
@pytest.mark.parametrize("exact", [False, True])
def test_every_kind_of_device_array_plans_and_normalizes_as_the_cpu(kernels, rng, kind, exact):
    img = blob(rng, np.uint8, radius=4.0)
    keywords = dict(target=0.4, exact=exact, fit="shift", margin=2)
    assert_same_plan(pixscale.plan(on_device(kind, img), **keywords), pixscale.plan(img, **keywords))
    assert_close_pixels(host(pixscale.normalize(on_device(kind, img), **keywords)), pixscale.normalize(img, **keywords))
    assert pixscale.measure(on_device(kind, img)) == pixscale.measure(img)


@pytest.mark.parametrize("filter", ["lanczos4", "area", "auto"])
@pytest.mark.parametrize("target", [0.3, 0.5])  # a shrink and an enlargement (area and auto change filter at 1)
def test_every_filter_agrees_with_the_cpu(kernels, rng, filter, target):
    img = blob(rng, np.uint16, radius=4.5)
    opts = pixscale.Options(target=target, exact=False, filter=filter)
    got, t = _normalize_and_plan(cuda.to_device(img), opts)
    want, t_cpu = _normalize_and_plan(img, opts)
    assert_close_pixels(host(got), want)
    assert_same_plan(t, t_cpu)


@pytest.mark.slow  # the tap filters' probes: seconds a case in the simulator
@pytest.mark.parametrize("filter", ["lanczos4", "area", "auto"])
def test_exact_mode_with_every_filter_agrees_with_the_cpu(kernels, rng, filter):
    img = blob(rng, np.uint8, radius=4.5)
    opts = pixscale.Options(target=0.4, exact=True, filter=filter)
    got, t = _normalize_and_plan(cuda.to_device(img), opts)
    want, t_cpu = _normalize_and_plan(img, opts)
    if SIMULATED:  # on a device the tap filters' sin may move a count by a pixel, and the search with it
        assert_close_pixels(host(got), want)
        assert_same_plan(t, t_cpu)
    else:
        assert t.on_target == t_cpu.on_target


def test_a_strided_view_is_read_in_place(kernels, rng):
    wide = blob(rng, np.uint8, shape=(20, 48))
    view = wide[:, ::2]  # every other column: a non-contiguous (20, 24, 4) view
    assert_same_plan(pixscale.plan(CAIArray(view), target=0.4), pixscale.plan(view, target=0.4))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("premultiplied", [True, False])
def test_warp_agrees_with_the_cpu(kernels, rng, dtype, channels, premultiplied):
    img = blob(rng, dtype, channels=channels)
    t = ScaleTransform(
        scale=1.37, src_center=(11.2, 9.9), dst_center=(13.0, 8.5), input_shape=(20, 24), output_shape=(18, 22)
    )
    got = host(pixscale.warp(cuda.to_device(img), t, premultiplied=premultiplied))
    assert_close_pixels(got, pixscale.warp(img, t, premultiplied=premultiplied))


@pytest.mark.parametrize("exact", [False, True])
def test_normalize_batch_plans_each_view_as_the_cpu(kernels, rng, exact):
    batch = np.stack(
        [blob(rng, np.uint8, radius=r, center=c) for r, c in [(3, (9.5, 8.2)), (5, (12.1, 10.4)), (7.5, (11.0, 9.0))]]
    )
    opts = pixscale.Options(target=0.5, exact=exact)
    got = host(pixscale.normalize_batch(cuda.to_device(batch), options=opts))
    assert_close_pixels(got, pixscale.normalize_batch(batch, options=opts))
    for i in range(3):
        assert_same_plan(pixscale.plan(cuda.to_device(batch[i]), options=opts), pixscale.plan(batch[i], options=opts))


def test_normalize_batch_on_a_new_canvas_and_with_one_thread(kernels, rng):
    batch = np.stack([blob(rng, np.uint16, radius=r) for r in (3, 4, 6)])
    opts = pixscale.Options(target=0.35, output_shape=(16, 18))
    got = host(pixscale.normalize_batch(CAIArray(batch), options=opts, threads=1))
    assert got.shape == (3, 16, 18, 4)
    assert_close_pixels(got, pixscale.normalize_batch(batch, options=opts))


@pytest.mark.parametrize("exact", [False, True])
def test_plan_group_of_device_views_is_the_cpus(kernels, rng, exact):
    views = [blob(rng, np.uint8, radius=3.5), blob(rng, np.uint8, shape=(16, 22), radius=5, center=(10.4, 7.7))]
    keywords = dict(target=0.4, exact=exact)
    got = pixscale.plan_group([cuda.to_device(v) for v in views], **keywords)
    for t, t_cpu in zip(got, pixscale.plan_group(views, **keywords), strict=True):
        assert_same_plan(t, t_cpu)
    with pytest.raises(ValueError, match="every view on the device"):
        pixscale.plan_group([cuda.to_device(views[0]), views[1]], **keywords)


@pytest.mark.parametrize("kernels", ["stand-in"], indirect=True)
def test_views_planned_together_plan_as_views_planned_alone(kernels, rng):
    """Exact mode's searches meeting at each probe launch (the default) give each view its own plan."""
    batch = np.stack([blob(rng, np.uint8, radius=r, center=(10 + r / 3, 9.5)) for r in (2.5, 3.5, 4.5, 6.0, 7.0)])
    opts = pixscale.Options(target=0.45, exact=True)
    together = _gpu_plan.plan_views(kernels, cuda.to_device(batch)[:, :, :, 3], opts, 0)
    alone = _gpu_plan.plan_views(kernels, cuda.to_device(batch)[:, :, :, 3], opts, 0, views_per_launch=1)
    for t, t_alone, img in zip(together, alone, batch, strict=True):
        assert_same_plan(t, t_alone)
        assert_same_plan(t, pixscale.plan(img, options=opts))


@pytest.mark.parametrize("kernels", ["stand-in"], indirect=True)
def test_a_view_that_vanishes_mid_batch_is_named_and_the_others_finish(kernels):
    """fit="none" probes every view, the views planned together: one fails, the others' rounds go on."""
    solid = np.zeros((20, 24, 4), np.uint8)
    solid[4:16, 5:17] = 255
    faint = np.zeros((20, 24, 4), np.uint8)
    faint[9:11, 11:13, 3] = 11  # just above the threshold: gone once shrunk
    batch = np.stack([solid, faint, solid])
    with pytest.raises(pixscale.VanishedObjectError) as cpu:
        pixscale.normalize_batch(batch, target=0.05, fit="none", exact=False)
    with pytest.raises(pixscale.VanishedObjectError, match="image 1 of the batch") as gpu:
        pixscale.normalize_batch(cuda.to_device(batch), target=0.05, fit="none", exact=False)
    assert str(gpu.value) == str(cpu.value)


def test_a_list_of_device_images_is_refused_with_the_fix(kernels, rng):
    with pytest.raises(ValueError, match="Stack them on the device"):
        pixscale.normalize_batch([cuda.to_device(blob(rng)), cuda.to_device(blob(rng))])


def test_an_empty_view_of_a_batch_is_named(kernels, rng):
    batch = np.stack([blob(rng), np.zeros((20, 24, 4), np.uint8)])
    with pytest.raises(pixscale.EmptyMaskError, match="image 1 of the batch"):
        pixscale.normalize_batch(cuda.to_device(batch))


# --- Normalizer: torch tensors (C, H, W), here a stand-in of torch --------------------------------


class FakeTensor:
    """What the GPU path reads of a torch CUDA tensor: shape, device, permute, contiguous, the array interface."""

    __module__ = "torch"

    def __init__(self, array, requires_grad=False):
        self.array, self.device, self.requires_grad = np.asarray(array), "cuda:0", requires_grad
        self.shape = self.array.shape

    def detach(self):
        return FakeTensor(self.array)

    def permute(self, *dims):
        return FakeTensor(self.array.transpose(dims))

    def contiguous(self):
        return FakeTensor(np.ascontiguousarray(self.array))

    @property
    def __cuda_array_interface__(self):
        if self.requires_grad:  # as torch refuses it
            raise RuntimeError("Can't get __cuda_array_interface__ on Variable that requires grad.")
        return CAIArray(self.array).__cuda_array_interface__


@pytest.fixture
def fake_torch(monkeypatch):
    if not SIMULATED:
        pytest.skip("the torch double exports host memory: simulator only")
    torch = types.ModuleType("torch")
    torch.as_tensor = lambda array, device: FakeTensor(array.copy_to_host())
    torch.cuda = types.SimpleNamespace(current_stream=lambda device: types.SimpleNamespace(cuda_stream=0))
    monkeypatch.setitem(sys.modules, "torch", torch)
    return torch


def test_normalizer_takes_a_channels_first_cuda_tensor(kernels, fake_torch, rng):
    img = blob(rng, np.uint8)
    norm = pixscale.Normalizer(0.45)
    K = np.array([[30.0, 0, 12], [0, 31.0, 10], [0, 0, 1]])
    out, K2 = norm.with_camera(FakeTensor(img.transpose(2, 0, 1)), K)
    want, K2_cpu = norm.with_camera(img, K)
    assert isinstance(out, FakeTensor) and out.shape == (4, 20, 24)
    assert_close_pixels(out.array.transpose(1, 2, 0), want)
    np.testing.assert_allclose(K2, K2_cpu, rtol=1e-9)
    assert_same_plan(norm.plan(FakeTensor(img.transpose(2, 0, 1))), norm.plan(img))


class FakeCupyArray(CAIArray):
    """What the GPU path reads of a CuPy array: its module and the array interface."""

    __module__ = "cupy"


def test_the_result_is_the_callers_kind(kernels, fake_torch, rng, monkeypatch):
    cupy = types.ModuleType("cupy")
    cupy.asarray = lambda array: FakeCupyArray(array.copy_to_host())
    cupy.cuda = types.SimpleNamespace(get_current_stream=lambda: types.SimpleNamespace(ptr=0))
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    img = blob(rng)
    out = pixscale.normalize(FakeCupyArray(img))
    assert isinstance(out, FakeCupyArray)
    np.testing.assert_array_equal(out.host, pixscale.normalize(img))
    assert isinstance(pixscale.normalize(FakeTensor(img)), FakeTensor)
    assert isinstance(pixscale.normalize(FakeTensor(img, requires_grad=True)), FakeTensor)  # read detached
    assert getattr(type(pixscale.normalize(cuda.to_device(img))), "__cuda_ndarray__", False)
    assert isinstance(pixscale.normalize(img), np.ndarray)


# --- What stays on the CPU, and what the GPU refuses ---------------------------------------------


def test_a_cpu_dlpack_array_stays_on_the_cpu_path(rng, monkeypatch):
    monkeypatch.setattr(_device, "gpu", lambda: pytest.fail("the GPU path was taken"))
    img = blob(rng)
    assert not _device.on_device(img) and not _device.on_device(DLPackArray(img, device=(1, 0)))
    out = pixscale.normalize(DLPackArray(img, device=(1, 0)), target=0.4)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, pixscale.normalize(img, target=0.4))


def test_the_gpu_an_array_lives_on_is_the_one_it_names():
    img = np.zeros((2, 2), np.uint8)
    assert _gpu_arrays._gpu_index(DLPackArray(img, device=(2, 3))) == 3
    assert _gpu_arrays._gpu_index(DLPackArray(img, device=(13, 1))) == 1
    assert _gpu_arrays._gpu_index(DLPackArray(img, device=(1, 0))) is None
    assert _gpu_arrays._gpu_index(CAIArray(img)) is None  # says nothing: the current device


def test_device_arrays_are_recognised_without_imports():
    assert _device.on_device(cuda.to_device(np.zeros((2, 2), np.uint8)))
    assert _device.on_device(CAIArray(np.zeros((2, 2), np.uint8)))
    assert _device.on_device(DLPackArray(np.zeros((2, 2), np.uint8), device=(13, 0)))
    assert not _device.on_device([[0, 1]]) and not _device.on_device(np.zeros(3))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda d, m: pixscale.normalize(d, min_component=3), "min_component"),
        (lambda d, m: pixscale.normalize(d, erase_specks=True, min_component=3), "min_component"),
        (lambda d, m: pixscale.plan(d, keep="largest"), "keep"),
    ],
)
def test_what_the_gpu_cannot_do_is_refused_with_the_fix(kernels, rng, call, match):
    d = cuda.to_device(blob(rng))
    with pytest.raises(ValueError, match=match) as info:
        call(d, np.ones((20, 24), bool))
    assert "NumPy array" in str(info.value)


@pytest.mark.parametrize("kernels", ["stand-in"], indirect=True)  # its FILTERS: bilinear alone
@pytest.mark.parametrize(
    "call",
    [
        lambda d: pixscale.normalize(d, filter="lanczos4"),
        lambda d: pixscale.normalize_batch(batch_of_one(d), filter="lanczos4"),
        lambda d: pixscale.Normalizer(filter="lanczos4")(d),
        lambda d: pixscale.warp(d, pixscale.plan(d), filter="lanczos4"),
    ],
)
def test_a_filter_the_kernels_lack_is_refused_with_the_fix(kernels, rng, call):
    with pytest.raises(ValueError, match="filter='lanczos4'.*the GPU has 'bilinear'.*NumPy array"):
        call(cuda.to_device(blob(rng)))


def test_dtypes_and_shapes_the_gpu_lacks_are_refused(kernels, rng):
    with pytest.raises(TypeError, match="float64"):
        pixscale.normalize(cuda.to_device(blob(rng, np.float32).astype(np.float64)))
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        pixscale.normalize(cuda.to_device(blob(rng, channels=3)))
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        pixscale.warp(cuda.to_device(np.ascontiguousarray(blob(rng)[..., 3])), pixscale.plan(blob(rng)))
    with pytest.raises(ValueError, match="planned for images of shape"):
        pixscale.warp(cuda.to_device(blob(rng, shape=(10, 10))), pixscale.plan(blob(rng)))
    alpha = np.ascontiguousarray(blob(rng)[..., 3])
    assert pixscale.measure(cuda.to_device(alpha)) == pixscale.measure(alpha)


def test_import_pixscale_imports_no_gpu_library():
    heavy = "('numba.cuda', 'cupy', 'torch', 'pixscale._gpu')"
    code = f"import sys, pixscale; print(sorted(m for m in sys.modules if m.startswith({heavy})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
