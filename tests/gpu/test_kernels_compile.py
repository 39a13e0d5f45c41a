"""Every CUDA kernel compiles to PTX for a real device, without a GPU, and no bilinear value is fused into an FMA.

The simulator runs the kernels' Python, not what numba-cuda compiles: a kernel
that the simulator accepts can still fail to type or compile for a device (a
float index, an unsupported call).  numba-cuda compiles to PTX with libNVVM and
NVRTC alone, no driver needed; where those libraries are missing (no CUDA
toolkit, no ``nvidia-cuda-nvrtc``) this test skips, unless ``PIXSCALE_REQUIRE_PTX`` is set
(as ``.ci/run`` does, with NVRTC installed beside the checkout).  It runs in a child process
with the simulator off, since this process may have chosen it.

The PTX also shows what NVVM did to the arithmetic: the measure, bilinear warp,
bilinear count, composite and mask (``attach_alpha``) kernels hold no ``fma`` instruction (every product and sum
is rounded on its own, as on the CPU).  The tap-filter kernels hold the FMAs
of libdevice's float64 ``sin`` only: as many as a kernel with that many
``sin`` calls and nothing else.
"""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("numba.cuda", reason="numba-cuda is not installed (pip install 'pixscale[cuda]')")

SCRIPT = r"""
import json, math, re, sys, types
try:
    from numba import cuda
    import numba.cuda.dispatcher as dispatcher
    # Device functions are compiled for the current device's compute capability: name one.
    dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))

    def probe(x, out):
        out[0] = math.sin(x[0])

    ptx, _ = cuda.compile_ptx(probe, "void(float64[::1], float64[::1])", cc=(9, 0))
except Exception as exc:  # no libNVVM / NVRTC here, or a numba-cuda without these entry points
    print(json.dumps({"skip": f"cannot compile PTX here: {type(exc).__name__}: {str(exc)[:200]}"}))
    sys.exit(0)

def fmas(ptx):
    return sum(1 for line in ptx.splitlines() if re.search(r"\bfma\.", line))

per_sin = fmas(ptx)
from pixscale.kernels.gpu import cuda_kernels as k
found = {"per_sin": per_sin}
for dt in ("uint8", "uint16", "float32"):
    thr = "float32" if dt == "float32" else "int64"
    a3, a4 = f"{dt}[:, :, :]", f"{dt}[:, :, :, :]"
    flags = "boolean, boolean, boolean, float32"
    tail = "boolean, boolean, float32, int64[::1]"
    sigs = {
        "measure": f"void({a3}, {thr}, int64, float64[:, ::1])",
        "warp": f"void({a4}, {a4}, float64[:, ::1], int64, {flags})",
        "warp_taps": f"void({a4}, {a4}, float64[:, ::1], int64, int64, {flags})",
        "count": f"void({a3}, {thr}, float64[:, ::1], int64, int64, int64, {tail})",
        "count_taps": f"void({a3}, {thr}, float64[:, ::1], int64, int64, int64, int64, {tail})",
    }
    for name, sig in sigs.items():
        ptx, _ = cuda.compile_ptx(getattr(k, name).py_func, sig, cc=(9, 0))
        found[f"{name}:{dt}"] = fmas(ptx)
for name, sig in (("measure_init", "void(float64[:, ::1], int64, int64)"), ("fill_zero", "void(int64[::1])")):
    cuda.compile_ptx(getattr(k, name).py_func, sig, cc=(9, 0))
from pixscale.kernels.gpu import mask as mk
cuda.compile_ptx(mk.mask_range_init.py_func, "void(float64[:, ::1])", cc=(9, 0))
for dt in ("uint8", "uint16", "float32"):
    a4 = f"{dt}[:, :, :, :]"
    ptx, _ = cuda.compile_ptx(k.composite.py_func, f"void({a4}, float64[::1], float64, boolean, int64)", cc=(9, 0))
    found[f"composite:{dt}"] = fmas(ptx)
    for m in ("boolean", "uint8", "int32", "float32", "float64"):
        sig = f"void({a4}, {m}[:, :, :], float64[::1], int64, boolean, boolean, {a4})"
        ptx, _ = cuda.compile_ptx(mk.attach_alpha.py_func, sig, cc=(9, 0))
        found[f"attach_alpha:{dt}:{m}"] = fmas(ptx)
for m in ("boolean", "uint8", "int32", "float32", "float64"):
    cuda.compile_ptx(mk.mask_range.py_func, f"void({m}[:, :, :], int64, float64[:, ::1])", cc=(9, 0))
print(json.dumps(found))
"""

#: float64 ``sin`` calls in a tap kernel: Lanczos-4's ``sin(pi f)`` and eight ``sin(x / 4)``, per axis.
SIN_CALLS = 2 * (1 + 8)


def test_every_kernel_compiles_for_a_device_without_fma_in_its_own_arithmetic():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in found:
        if os.environ.get("PIXSCALE_REQUIRE_PTX"):  # CI installs NVRTC for this test: a skip there is a failure
            pytest.fail(found["skip"])
        pytest.skip(found["skip"])
    per_sin = found.pop("per_sin")
    for name, n in found.items():
        if "taps" in name:
            assert n == SIN_CALLS * per_sin, (name, n, per_sin)
        else:
            assert n == 0, (name, n)
