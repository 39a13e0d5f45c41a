"""The GPU tests run on a CUDA device where one is present, elsewhere under numba's CUDA simulator.

numba chooses between the two when ``numba.cuda`` is first imported, from
``NUMBA_ENABLE_CUDASIM``; pytest imports this file before the test modules of
this folder, so the variable is set here (unless the caller set it): ``0``
when the CUDA driver reports a device, else ``1``.  The driver is asked
through ctypes, which imports nothing of numba.  Each test module skips itself
when numba-cuda is not installed or finds no device, with its first lines::

    cuda = pytest.importorskip("numba.cuda", reason="numba-cuda is not installed ...")
    if not cuda.is_available():
        pytest.skip("numba.cuda finds no usable CUDA device ...", allow_module_level=True)

(a test module cannot import this file under ``--import-mode=importlib``, so the
two lines are repeated, not shared).
"""

import ctypes
import os
import sys

import pytest


def _device_present():
    """True when the CUDA driver loads and reports at least one device."""
    name = "nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1"
    try:
        driver = ctypes.CDLL(name)
    except OSError:
        return False
    count = ctypes.c_int(0)
    return driver.cuInit(0) == 0 and driver.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "0" if _device_present() else "1")
# numba-cuda's low-occupancy warning stays on: the launchers' grids never trigger it (see
# pixscale.kernels.gpu._launch), and the suite's filterwarnings = error would catch one that did.


@pytest.fixture(scope="session")
def on_simulator():
    """True when the kernels run under numba's CUDA simulator (as numba.cuda decided when it was imported)."""
    from pixscale.kernels.gpu import SIMULATOR

    return SIMULATOR
