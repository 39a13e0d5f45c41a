"""Which images live on a GPU: the seam between the CPU API and the GPU path (:mod:`pixscale._gpu`).

:func:`on_device` asks an image where it lives without importing anything:
a ``__cuda_array_interface__``, a ``__dlpack__`` whose
``__dlpack_device__()`` is a CUDA device, or a Numba device array (the CUDA
simulator's ``FakeCUDAArray`` has neither, but carries Numba's
``__cuda_ndarray__`` mark).  A NumPy array, or any CPU DLPack array, stays on
the CPU path.  The public functions ask it first, and only for a device array
load the GPU path with :func:`gpu`, which imports :mod:`numba.cuda`: the GPU
path plans with the CPU's own code (:mod:`pixscale._plan`), so it sits above
the modules that dispatch to it and is reached by name at call time, never
imported by them.
"""

import importlib

import numpy as np

#: DLPack's device types of memory a CUDA kernel can read: kDLCUDA, kDLCUDAManaged.
CUDA_DLPACK_DEVICES = (2, 13)


def on_device(image):
    """True when ``image`` is an array on a CUDA device (see the module's docstring); imports nothing."""
    if isinstance(image, np.ndarray):
        return False
    kind = type(image)
    try:
        if getattr(kind, "__cuda_ndarray__", False) or hasattr(image, "__cuda_array_interface__"):
            return True
    except Exception:  # an interface that refuses (a torch CUDA tensor that requires grad): on the device
        return True
    if hasattr(kind, "__dlpack__") and hasattr(kind, "__dlpack_device__"):
        try:
            return int(image.__dlpack_device__()[0]) in CUDA_DLPACK_DEVICES
        except Exception:  # a device it cannot name is not one we can read
            return False
    return False


def gpu():
    """The GPU path, :mod:`pixscale._gpu`, imported on first use (it imports :mod:`numba.cuda`)."""
    return importlib.import_module("pixscale._gpu")
