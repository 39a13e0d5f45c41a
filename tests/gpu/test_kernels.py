"""The CUDA kernels (pixscale.kernels.gpu) against the NumPy reference and the CPU kernels, exactly.

Under numba's CUDA simulator (no GPU: see conftest.py) every thread runs in
Python, so the images are tiny; the grid, block and chunk sizes are shrunk
where a test needs several blocks per view or several launches per batch.
"""

import types

import numpy as np
import pytest

cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install 'pixscale[cuda]')")
if not cuda.is_available():
    pytest.skip("numba.cuda finds no usable CUDA device (set NUMBA_ENABLE_CUDASIM=1)", allow_module_level=True)

import pixscale  # noqa: E402
from pixscale import reference  # noqa: E402
from pixscale._filters import CODES, resolve  # noqa: E402
from pixscale._warp import kernel_constants  # noqa: E402
from pixscale.kernels import gpu, kernels  # noqa: E402

DTYPES = [np.uint8, np.uint16, np.float32]
THRESHOLD = 10  # on the 0-255 scale, as the public API takes it


def _views(rng, dtype, n, h, w, nc, *, empty=(), touching=()):
    """``n`` RGB(A) views of ``dtype`` with a soft blob of alpha, each somewhere else.

    Views listed in ``empty`` have alpha 0 everywhere; those in ``touching``
    have their blob cut by the image's left and top edges.
    """
    top = 1.0 if np.dtype(dtype).kind == "f" else float(np.iinfo(dtype).max)
    colour = rng.random((n, h, w, nc))
    yy, xx = np.mgrid[0:h, 0:w]
    for k in range(n):
        cy, cx = (0.5, 1.0) if k in touching else (h * rng.uniform(0.35, 0.65), w * rng.uniform(0.3, 0.7))
        r = min(h, w) * rng.uniform(0.25, 0.4)
        blob = np.clip(1.5 - np.hypot(yy - cy, xx - cx) / r, 0.0, 1.0)
        colour[k, ..., -1] = 0.0 if k in empty else blob
    if nc == 3:  # no alpha channel: the blob only shapes the colour
        colour[..., 0] *= colour[..., 2]
    out = colour * top
    return out.astype(dtype) if np.dtype(dtype).kind == "f" else np.floor(out).astype(dtype)


def _canvas(scale, src_center, dst_center, output_shape):
    """What reference.warp reads of a transform."""
    return types.SimpleNamespace(scale=scale, src_center=src_center, dst_center=dst_center, output_shape=output_shape)


def _transform(row, input_shape, output_shape):
    scale, sx, sy, dx, dy = (float(v) for v in row)
    return pixscale.ScaleTransform(
        scale=scale, src_center=(sx, sy), dst_center=(dx, dy), input_shape=input_shape, output_shape=output_shape
    )


# --- measure ----------------------------------------------------------------------


# uint16 with one pixel a thread: several blocks per view, combined by the atomics.
BLOCKINGS = [(np.uint8, 8), (np.uint16, 1), (np.float32, 8)]


@pytest.mark.parametrize(("dtype", "pixels_per_thread"), BLOCKINGS)
def test_measure_batch_matches_reference_and_cpu(rng, monkeypatch, dtype, pixels_per_thread):
    monkeypatch.setattr(gpu, "PIXELS_PER_THREAD", pixels_per_thread)
    views = _views(rng, dtype, 3, 12, 16, 4, empty=(1,), touching=(2,))
    thr = reference.threshold_in_units(dtype, THRESHOLD)
    got = gpu.measure_batch(cuda.to_device(views)[..., 3], thr, 0).copy_to_host()  # a strided view of alpha
    assert got.shape == (3, 7) and got.dtype == np.float64
    for k in range(3):
        alpha = views[k, ..., 3]
        cpu = np.zeros(7, np.int64)
        kernels().measure_alpha(np.ascontiguousarray(alpha), thr, cpu)
        assert got[k].tolist() == cpu.tolist()
        count, centroid, bbox, *_ = reference.measure_values(alpha, threshold=THRESHOLD)
        assert got[k, 0] == count
        if count:
            assert (got[k, 1] / count + 0.5, got[k, 2] / count + 0.5) == centroid
            assert tuple(got[k, 3:].astype(int)) == bbox
        else:
            assert got[k, 1:].tolist() == [0, 0, 16, 12, 0, 0]  # the CPU's empty box
    assert got[2, 3] == 0 and got[2, 4] == 0  # the object touching the border


def test_measure_batch_of_a_contiguous_alpha_and_of_nothing(rng):
    alpha = _views(rng, np.uint8, 2, 9, 7, 4)[..., 3].copy()
    got = gpu.measure_batch(cuda.to_device(alpha), 0, 0).copy_to_host()
    for k in range(2):
        cpu = np.zeros(7, np.int64)
        kernels().measure_alpha(alpha[k], 0, cpu)
        assert got[k].tolist() == cpu.tolist()
    assert gpu.measure_batch(cuda.to_device(np.zeros((0, 4, 4), np.uint8)), 0, 0).shape == (0, 7)
    empty = gpu.measure_batch(cuda.to_device(np.zeros((1, 0, 5), np.uint8)), 0, 0).copy_to_host()
    assert empty.tolist() == [[0, 0, 0, 5, 0, 0, 0]]


# --- warp ---------------------------------------------------------------------------

# Per view: scale, src_cx, src_cy, dst_cx, dst_cy.  A shrink and an enlargement in one batch, off centre.
PARAMS = np.array([[0.63, 7.3, 5.6, 6.1, 8.4], [1.71, 9.25, 6.5, 5.0, 6.75]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("nc", "premult"), [(3, False), (4, False), (4, True)])
def test_warp_batch_matches_reference_and_cpu(rng, dtype, nc, premult):
    views = _views(rng, dtype, 2, 12, 16, nc, touching=(1,))
    out = cuda.device_array((2, 14, 13, nc), dtype)
    gpu.warp_batch(cuda.to_device(views), out, cuda.to_device(PARAMS), premult, 0)
    got = out.copy_to_host()
    for k in range(2):
        t = _transform(PARAMS[k], (12, 16), (14, 13))
        cpu = pixscale.warp(views[k], t, premultiplied=premult)
        np.testing.assert_array_equal(got[k], cpu)
        ref = reference.warp(views[k], _canvas(t.scale, t.src_center, t.dst_center, (14, 13)), premultiplied=premult)
        np.testing.assert_array_equal(got[k], ref)
    assert got[0].any() and got[1].any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_warp_batch_of_empty_alpha_scale_one_and_views_past_the_source(rng, dtype):
    views = _views(rng, dtype, 3, 10, 12, 4, empty=(0,))
    params = np.array([[1.0, 6.0, 5.0, 6.5, 5.0], [0.9, 6.0, 5.0, 40.0, 5.0], [2.0, 5.5, 4.5, 6.25, 5.75]])
    out = cuda.device_array((3, 11, 12, 4), dtype)
    gpu.warp_batch(cuda.to_device(views), out, cuda.to_device(params), True, 0)
    got = out.copy_to_host()
    for k in range(3):
        t = _transform(params[k], (10, 12), (11, 12))
        np.testing.assert_array_equal(got[k], pixscale.warp(views[k], t, premultiplied=True))
    assert not got[0].any()  # alpha 0 everywhere: colour 0 too
    assert not got[1].any()  # the source lands past the canvas: all padding


def test_warp_batch_in_chunks_and_of_nothing(rng, monkeypatch):
    monkeypatch.setattr(gpu, "MAX_GRID_YZ", 2)  # three views: two launches
    views = _views(rng, np.uint8, 3, 8, 9, 4)
    params = np.array([[0.8, 4.5, 4.0, 5.0, 4.0], [1.3, 4.0, 4.5, 4.5, 5.0], [1.0, 3.5, 3.0, 5.0, 4.5]])
    out = cuda.device_array((3, 9, 10, 4), np.uint8)
    gpu.warp_batch(cuda.to_device(views), out, cuda.to_device(params), False, 0)
    got = out.copy_to_host()
    for k in range(3):
        np.testing.assert_array_equal(
            got[k], pixscale.warp(views[k], _transform(params[k], (8, 9), (9, 10)), premultiplied=False)
        )
    nothing = cuda.device_array((0, 9, 10, 4), np.uint8)
    gpu.warp_batch(cuda.to_device(views[:0]), nothing, cuda.to_device(params[:0]), False, 0)


def test_warp_batch_reads_a_strided_source(rng):
    """A source of any strides: here every other row of a wider batch, from its second column."""
    big = _views(rng, np.uint16, 2, 24, 17, 4)
    views = big[:, ::2, 1:, :]  # (2, 12, 16, 4), not contiguous
    out = cuda.device_array((2, 14, 13, 4), np.uint16)
    gpu.warp_batch(cuda.to_device(big)[:, ::2, 1:, :], out, cuda.to_device(PARAMS), True, 0)
    got = out.copy_to_host()
    for k in range(2):
        np.testing.assert_array_equal(got[k], pixscale.warp(views[k], _transform(PARAMS[k], (12, 16), (14, 13))))


def test_the_kernels_refuse_other_dtypes():
    src = cuda.to_device(np.zeros((1, 4, 4, 4), np.float64))
    with pytest.raises(TypeError, match="uint8, uint16, float32; got float64"):
        gpu.warp_batch(src, cuda.device_array((1, 4, 4, 4), np.float64), cuda.to_device(PARAMS[:1]), True, 0)
    with pytest.raises(TypeError, match="got int32"):
        gpu.measure_batch(cuda.to_device(np.zeros((1, 4, 4), np.int32)), 0, 0)
    with pytest.raises(ValueError, match="'bilinear', 'lanczos4', 'area', 'auto'; got 'cubic'"):
        gpu.warp_batch(src, cuda.device_array((1, 4, 4, 4), np.float64), cuda.to_device(PARAMS[:1]), True, 0, "cubic")
    assert set(gpu.FILTERS) == set(pixscale._filters.FILTERS)


# --- the tap filters: Lanczos-4 and area ------------------------------------------------

# "auto" is area, bilinear and Lanczos-4 by the scale: one dtype is enough.
TAP_CASES = [(f, d) for f in ("lanczos4", "area") for d in DTYPES] + [("auto", np.uint16)]
# Per view: a shrink (area / auto: area), scale 1 (area and auto: bilinear) and an enlargement.
TAP_PARAMS = np.array([[0.45, 6.3, 5.1, 6.0, 5.5], [1.0, 6.0, 5.0, 6.5, 5.0], [1.7, 5.2, 4.9, 7.0, 6.0]])


def _within_rounding(got, want, premultiplied):
    """Equal up to the rounding of a float32 kernel: 1 LSB (integers), 1e-5 relative (floats).

    Where a premultiplied float alpha is nearly 0 (Lanczos' lobes), the division
    back amplifies rounding: there only the alpha is compared.
    """
    got, want = got.astype(np.float64), want.astype(np.float64)
    if premultiplied and got.shape[-1] == 4:
        faint = np.abs(want[..., -1:]) < 1e-3
        got[..., :-1] = np.where(faint, 0, got[..., :-1])
        want[..., :-1] = np.where(faint, 0, want[..., :-1])
    if np.issubdtype(got.dtype, np.integer) or want.max(initial=0) > 1:  # integer images, compared as floats
        assert np.abs(got - want).max(initial=0) <= 1
    else:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize(("filter", "dtype"), TAP_CASES)
@pytest.mark.parametrize(("nc", "premult"), [(3, False), (4, True)])
def test_warp_batch_with_a_tap_filter_matches_the_cpu_and_the_reference(rng, on_simulator, filter, dtype, nc, premult):
    views = _views(rng, dtype, 3, 10, 12, nc, touching=(2,))
    out = cuda.device_array((3, 11, 13, nc), dtype)
    gpu.warp_batch(cuda.to_device(views), out, cuda.to_device(TAP_PARAMS), premult, 0, filter=filter)
    got = out.copy_to_host()
    for k in range(3):
        t = _transform(TAP_PARAMS[k], (10, 12), (11, 13))
        cpu = pixscale.warp(views[k], t, premultiplied=premult, filter=filter)
        if on_simulator:  # the same sin: the same float32 weights, the same bits
            np.testing.assert_array_equal(got[k], cpu)
        else:  # the device's sin may move a weight by an ulp
            _within_rounding(got[k], cpu, premult)
        _within_rounding(got[k], reference.filtered(views[k], t, filter=filter, premultiplied=premult), premult)


@pytest.mark.parametrize(("filter", "dtype"), TAP_CASES)
def test_count_batch_with_a_tap_filter_equals_the_cpu_probe(rng, on_simulator, filter, dtype):
    views = _views(rng, dtype, 2, 10, 12, 4, touching=(1,))
    alpha = views[..., 3]
    thr = reference.threshold_in_units(dtype, THRESHOLD)
    rows = _probe_rows(2, (0.45, 1.0, 1.6), 10, 12)
    windows = np.array([[0, 11, 0, 13], [-4, 12, -3, 15], [1, 20, 2, 22]] * 2, np.float64)
    params = np.concatenate([rows, windows], axis=1)
    got = gpu.count_batch(cuda.to_device(views)[..., 3], thr, cuda.to_device(params), 20, 22, 0, filter).copy_to_host()
    consts = kernel_constants(np.dtype(dtype))
    for r, (v, s, sx, sy, dx, dy, r0, r1, c0, c1) in enumerate(params):
        a = np.ascontiguousarray(alpha[int(v)])
        window = (int(r0), int(r1), int(c0), int(c1))
        code = CODES[resolve(filter, s)]
        args = (a, thr, s, sx, sy, dx, dy, *window, consts[3] > 0, consts)
        cpu = kernels().warp_taps_count(code, *args) if code else kernels().warp_count(*args)
        assert got[r] == cpu if on_simulator else abs(got[r] - cpu) <= max(1, cpu // 100)
    assert got.all()


# --- count (exact mode's probe) -------------------------------------------------------


def _probe_rows(n_views, scales, h, w):
    """Probe rows ``view, scale, src_cx, src_cy, dst_cx, dst_cy``: every view at every scale, off centre."""
    return np.array(
        [[v, s, w / 2 - 0.7 + v, h / 2 + 0.35, w / 2 + 1.25, h / 2 - 0.5 * v] for v in range(n_views) for s in scales]
    )


@pytest.mark.parametrize(("dtype", "pixels_per_thread"), BLOCKINGS)
def test_count_batch_on_the_canvas_equals_the_cpu_probe_and_the_reference(rng, monkeypatch, dtype, pixels_per_thread):
    monkeypatch.setattr(gpu, "PIXELS_PER_THREAD", pixels_per_thread)
    views = _views(rng, dtype, 3, 12, 14, 4, empty=(1,), touching=(2,))
    alpha = views[..., 3]
    thr = reference.threshold_in_units(dtype, THRESHOLD)
    rows = _probe_rows(3, (0.55, 1.0, 1.45), 12, 14)
    got = gpu.count_batch(cuda.to_device(views)[..., 3], thr, cuda.to_device(rows), 13, 15, 0).copy_to_host()
    assert got.dtype == np.int64 and got.shape == (9,)
    consts = kernel_constants(np.dtype(dtype))
    for r, (v, s, sx, sy, dx, dy) in enumerate(rows):
        a = np.ascontiguousarray(alpha[int(v)])
        cpu = kernels().warp_count(a, thr, s, sx, sy, dx, dy, 0, 13, 0, 15, consts[3] > 0, consts)
        ref = reference.probe_count(a, thr, s, (sx, sy), (dx, dy), (0, 13), (0, 15))
        assert got[r] == cpu == ref
    assert got[3:6].tolist() == [0, 0, 0] and got[[0, 1, 2, 6, 7, 8]].all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_count_batch_on_windows_equals_the_cpu_probe(rng, monkeypatch, dtype):
    monkeypatch.setattr(gpu, "MAX_GRID_YZ", 4)  # six rows: two launches
    views = _views(rng, dtype, 2, 11, 13, 4, touching=(0,))
    alpha = views[..., 3].copy()
    thr = reference.threshold_in_units(dtype, THRESHOLD)
    rows = _probe_rows(2, (0.7, 1.3, 2.1), 11, 13)
    windows = np.array([[-3, 14, -2, 16], [2, 9, 1, 12], [-4, 15, -3, 17]] * 2, np.float64)
    params = np.concatenate([rows, windows], axis=1)
    got = gpu.count_batch(cuda.to_device(alpha), thr, cuda.to_device(params), 19, 20, 0).copy_to_host()
    consts = kernel_constants(np.dtype(dtype))
    for r, (v, s, sx, sy, dx, dy, r0, r1, c0, c1) in enumerate(params):
        a = alpha[int(v)]
        window = (int(r0), int(r1), int(c0), int(c1))
        cpu = kernels().warp_count(a, thr, s, sx, sy, dx, dy, *window, consts[3] > 0, consts)
        memo = {"box": (0, 0, a.shape[1], a.shape[0])}  # the probe that interpolates only the edge
        assert got[r] == cpu == kernels().warp_count(a, thr, s, sx, sy, dx, dy, *window, consts[3] > 0, consts, memo)
        if r0 >= 0 and c0 >= 0:
            assert got[r] == reference.probe_count(a, thr, s, (sx, sy), (dx, dy), window[:2], window[2:])
    assert got.all()


def test_count_batch_of_no_rows():
    alpha = cuda.to_device(np.zeros((1, 4, 4), np.uint8))
    assert gpu.count_batch(alpha, 0, cuda.to_device(np.zeros((0, 6))), 4, 4, 0).shape == (0,)


# --- the module's place ---------------------------------------------------------------


@pytest.mark.parametrize("grid", [1, 3, (1, 2), (5, 1, 3), (2, 70), (200, 1)])
def test_a_small_launch_does_not_warn_of_low_occupancy(monkeypatch, grid):
    """numba-cuda warns on a device when a grid has under 128 blocks (never in the simulator): the launches
    have enough blocks (no warning filter, which would not be thread-safe)."""
    import math
    import warnings

    from numba.core.errors import NumbaPerformanceWarning

    calls = []

    class Kernel:  # configures as numba-cuda's dispatcher does on a device
        def __getitem__(self, config):
            g = config[0] if isinstance(config[0], tuple) else (config[0],)
            if math.prod(g) < 128:
                msg = f"Grid size {math.prod(g)} will likely result in GPU under-utilization due to low occupancy."
                warnings.warn(NumbaPerformanceWarning(msg), stacklevel=2)
            return lambda *args: calls.append((config, args))

    monkeypatch.setattr(gpu, "MIN_GRID", 128)  # a device's value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpu._launch(Kernel(), grid, 32, 0, "a", 2)
    ((config, args),) = calls
    dims = (grid,) if isinstance(grid, int) else grid
    assert config[0][1:] == dims[1:] and config[0][0] >= dims[0] and config[1:] == (32, 0) and args == ("a", 2)


def test_blocks_added_to_fill_a_grid_change_no_result(monkeypatch, rng):
    """The blocks past a kernel's work along x (added for occupancy) do nothing: every launcher's result is the same."""
    src = np.zeros((2, 9, 11, 4), np.uint8)
    src[:, 2:7, 3:9] = rng.integers(0, 256, (2, 5, 6, 4))
    params = np.array([[1.3, 5.5, 4.2, 6.0, 5.0], [0.7, 6.1, 4.4, 5.0, 4.0]])
    rows = np.array([[0, 1.3, 5.5, 4.2, 6.0, 5.0, -2, 9, 0, 12], [1, 0.7, 6.1, 4.4, 5.0, 4.0, 0, 6, 1, 9]])

    def run():
        d = cuda.to_device(src)
        out = cuda.device_array((2, 8, 10, 4), np.uint8)
        gpu.warp_batch(d, out, cuda.to_device(params), True, 0, "bilinear")
        alpha = d[:, :, :, 3]
        stats = gpu.measure_batch(alpha, 100).copy_to_host()
        counts = gpu.count_batch(alpha, 100, cuda.to_device(rows), 11, 12, 0, "lanczos4").copy_to_host()
        return out.copy_to_host(), stats, counts

    monkeypatch.setattr(gpu, "MIN_GRID", 1)
    want = run()
    monkeypatch.setattr(gpu, "MIN_GRID", 24)
    for got, expected in zip(run(), want, strict=True):
        np.testing.assert_array_equal(got, expected)


def test_pixscale_and_its_cpu_kernels_never_import_the_gpu_module():
    import subprocess
    import sys

    code = (
        "import sys, pixscale\n"
        "pixscale.kernels.kernels().warp_window\n"
        "print(sorted(m for m in sys.modules if m.startswith(('numba.cuda', 'pixscale.kernels.gpu'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
