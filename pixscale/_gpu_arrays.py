"""Device arrays in and out: a caller's array as a Numba device array without a copy, and back in its kind.

Part of the GPU path (:mod:`pixscale._gpu`).  :class:`Device` reads an
array with ``__cuda_array_interface__``, a CUDA ``__dlpack__`` or a Numba
device array, finds the GPU it lives on and the stream to launch on, and
gives results back as the caller's kind (CuPy, torch, else Numba).  Under
numba's CUDA simulator "device" memory is host memory: an array interface's
pointer is read as a host pointer and a DLPack capsule through NumPy, so the
same code runs the tests without a GPU.
"""

import contextlib
import sys

import numpy as np


def numba_cuda():
    """:mod:`numba.cuda`, imported on first use (the simulator if ``NUMBA_ENABLE_CUDASIM`` was set before)."""
    from numba import cuda

    return cuda


def _simulated():
    """True under numba's CUDA simulator: device memory is host memory."""
    from numba import config

    return bool(config.ENABLE_CUDASIM)  # type: ignore[attr-defined]


def library_of(image):
    """``"torch"``, ``"cupy"`` or None: the library of ``image`` (by its type's module; imports nothing)."""
    root = type(image).__module__.partition(".")[0]
    return root if root in ("torch", "cupy") and root in sys.modules else None


def _c_strides(shape, itemsize):
    """The byte strides of a C-contiguous array of ``shape``."""
    strides: list[int] = []
    step = itemsize
    for n in reversed(shape):
        strides.insert(0, step)
        step *= int(n)
    return tuple(strides)


def _host_view(desc):
    """Under the CUDA simulator, the NumPy array an array interface (a host pointer there) describes."""
    import ctypes

    dtype = np.dtype(desc["typestr"])
    shape = tuple(desc["shape"])
    strides = desc.get("strides") or _c_strides(shape, dtype.itemsize)
    lo = sum(s * (n - 1) for s, n in zip(strides, shape, strict=True) if s < 0)
    hi = sum(s * (n - 1) for s, n in zip(strides, shape, strict=True) if s > 0) + dtype.itemsize
    buffer = (ctypes.c_char * (hi - lo)).from_address(desc["data"][0] + lo)
    return np.ndarray(shape, dtype, buffer=buffer, offset=-lo, strides=strides)


class _AsHost:
    """A DLPack exporter that says it lives on the CPU: the simulator's 'device' memory is host memory."""

    def __init__(self, image):
        self.image = image

    def __dlpack__(self, **kw):
        return self.image.__dlpack__(**kw)

    def __dlpack_device__(self):
        return (1, 0)


def _dlpack_interface(image, stream_ptr):
    """The array interface (a dict) of a DLPack array on a CUDA device, through ``cuda.core``'s view."""
    from cuda.core.utils import StridedMemoryView

    view = StridedMemoryView.from_dlpack(image, stream_ptr=stream_ptr)
    dtype = np.dtype(view.dtype)
    strides = None if view.strides is None else tuple(s * dtype.itemsize for s in view.strides)
    desc = {"shape": tuple(view.shape), "strides": strides, "typestr": dtype.str, "data": (view.ptr, False)}
    return dict(desc, version=3), view


def _gpu_index(image):
    """The CUDA device index ``image`` names through ``__dlpack_device__`` (torch, CuPy), else None."""
    if not hasattr(type(image), "__dlpack_device__"):
        return None
    try:
        kind, index = image.__dlpack_device__()
    except Exception:  # a device it cannot name: the current one
        return None
    return int(index) if int(kind) in (2, 13) else None


class Device:
    """A caller's device array as a Numba device array (``array``), the ``stream`` to launch on, and :meth:`give`.

    Nothing is copied: the Numba array is a view of the caller's memory.
    ``gpu`` is the index of the device the image lives on when it says
    (``__dlpack_device__``: torch, CuPy), and :meth:`selected` makes it the
    current device: the work of a tensor on ``cuda:3`` runs on GPU 3.
    """

    def __init__(self, image):
        self.library = library_of(image)
        if self.library == "torch" and image.requires_grad:  # as the CPU path reads a tensor: detached
            image = image.detach()
        self.image = image
        self.gpu = _gpu_index(image)
        with self.selected():
            self._view(image)

    def selected(self):
        """A context in which the image's GPU is the current device (a no-op when it did not say)."""
        if self.gpu is None or _simulated():
            return contextlib.nullcontext()
        return numba_cuda().gpus[self.gpu]

    def _view(self, image):
        cuda = numba_cuda()
        stream_ptr = None
        if self.library == "torch":
            stream_ptr = sys.modules["torch"].cuda.current_stream(image.device).cuda_stream
        elif self.library == "cupy":
            stream_ptr = sys.modules["cupy"].cuda.get_current_stream().ptr
        if getattr(type(image), "__cuda_ndarray__", False):  # a Numba device array (or the simulator's)
            self.array, stream = image, getattr(image, "stream", 0)
        else:
            desc, owner = getattr(image, "__cuda_array_interface__", None), image
            if desc is None and _simulated():
                desc, owner = None, np.from_dlpack(_AsHost(image))
            elif desc is None:
                desc, owner = _dlpack_interface(image, stream_ptr or 1)  # DLPack's 1: the legacy default stream
            if stream_ptr is None and desc is not None:
                stream_ptr = desc.get("stream")
            if _simulated():
                from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

                self.array = FakeCUDAArray(owner if desc is None else _host_view(desc))
            else:
                self.array = cuda.from_cuda_array_interface(desc, owner=owner, sync=False)
            stream = 0
        if stream_ptr and not _simulated():
            stream = cuda.external_stream(stream_ptr)
        self.stream = stream

    def empty(self, shape, dtype):
        """A new device array, allocated on the stream the kernels run on."""
        return numba_cuda().device_array(shape, dtype, stream=self.stream)

    def give(self, array):
        """``array`` (a Numba device array) as the caller's kind: CuPy, torch, else the Numba array itself."""
        if self.library == "cupy":
            return sys.modules["cupy"].asarray(array)
        if self.library == "torch":
            return sys.modules["torch"].as_tensor(array, device=self.image.device)
        return array


def batch_of_one(array, n=1):
    """An (H, W, ...) device array as a (1, H, W, ...) view, no copy (``n``: (n, H, W, ...), the view n times)."""
    if _simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return FakeCUDAArray(np.broadcast_to(array._ary[None], (n, *array.shape)), stream=array.stream)
    desc = dict(array.__cuda_array_interface__)
    strides = desc.get("strides") or _c_strides(array.shape, array.dtype.itemsize)
    desc.update(shape=(n, *array.shape), strides=(0, *strides))
    desc.pop("stream", None)
    return numba_cuda().from_cuda_array_interface(desc, owner=array, sync=False)
