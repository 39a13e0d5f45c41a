"""Normalizing many images at once, in parallel across images."""

import itertools
import numbers
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._plan import normalize, plan
from ._validate import check_array, check_float_range, check_shape
from ._warp import warp_into


def normalize_batch(
    images: np.ndarray | Sequence[ArrayLike], *, threads: int | None = None, **options: Any
) -> np.ndarray | list[np.ndarray]:
    """Normalize every image of a batch, in parallel across images.

    Parameters
    ----------
    images : (N, H, W, C) ndarray or sequence of images
        Each image as accepted by :func:`pixscale.normalize`.
    threads : int, optional
        Worker threads (the kernels release the GIL); default all cores.
        ``threads=1`` runs serially in the calling thread.
    **options
        Keyword options of :func:`pixscale.normalize` (``target``, ``center``, ...).

    Returns
    -------
    ndarray or list of ndarray
        An array of the same shape and dtype for an array input (with
        ``output_shape`` given, (N, Ho, Wo, C)); a list for a sequence.

    Raises
    ------
    EmptyMaskError, ValueError, TypeError
        As :func:`pixscale.normalize`, for the first image that fails; the
        message names its index.

    Notes
    -----
    Images are handed out one at a time, in order, to ``threads`` threads,
    the calling thread among them; the kernels release the GIL, so only the
    thin Python planning code of two images ever waits on the other.

    Examples
    --------
    >>> import numpy as np, pixscale
    >>> batch = np.zeros((3, 64, 64, 4), np.uint8)
    >>> batch[:, 20:30, 20:30] = 255
    >>> pixscale.normalize_batch(batch, target=0.25).shape
    (3, 64, 64, 4)
    """
    if threads is None:
        threads = os.cpu_count() or 1
    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool):
        raise TypeError(f"threads must be an int (a number of worker threads) or None; got {threads!r}")
    if threads < 1:
        raise ValueError(f"threads must be a positive number of worker threads; got {threads}")
    is_array = isinstance(images, np.ndarray)
    if is_array and images.ndim not in (3, 4):
        raise ValueError(f"a batch array must have shape (N, H, W) or (N, H, W, C); got shape {images.shape}")

    # An array batch (without compositing) is written in place into one preallocated array,
    # so no serial gather of the results is left for the calling thread.
    out = None
    if is_array and options.get("background") is None and not options.get("erase_specks") and len(images):
        shape = options.get("output_shape")
        shape = images.shape[1:3] if shape is None else check_shape(shape)
        out = np.empty((len(images),) + tuple(shape) + images.shape[3:], images.dtype)
        premultiplied = options.pop("premultiplied", True)
        options.pop("background", None)  # given as None
        options.pop("erase_specks", None)  # given as False

    n = len(images)
    results = [None] * n

    def one(index):
        try:
            if out is None:
                results[index] = normalize(images[index], **options)
            else:
                image = check_float_range(check_array(images[index]))
                warp_into(image, plan(image, **options), premultiplied, out[index])
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"image {index} of the batch: {exc}") from exc

    run_parallel(one, n, threads)
    if out is not None:
        return out
    if is_array:
        return np.stack(results) if results else images.copy()
    return results


def run_parallel(fn, n, threads):
    """Call ``fn(i)`` for ``i`` in ``range(n)`` on up to ``threads`` threads, the calling one included.

    Indices are handed out in order from a shared counter.  If calls fail,
    no new index is started and the exception of the lowest failing index is
    re-raised: every lower index was handed out before it and has finished.
    A ``KeyboardInterrupt`` or ``SystemExit`` in any call is re-raised before
    ordinary errors.
    (A pool of futures was measured slower here: its result hand-offs wake
    the waiting caller, which then competes for the GIL.)
    """
    threads = min(threads, n)
    if threads <= 1:
        for i in range(n):
            fn(i)
        return
    counter = itertools.count()
    errors = []  # (index, exception) of failed calls
    stop = []  # non-empty once the calling thread is interrupted

    def worker():
        for i in counter:
            if i >= n or errors or stop:
                return
            try:
                fn(i)
            except BaseException as exc:  # re-raised in the calling thread below
                errors.append((i, exc))
                return

    helpers = [threading.Thread(target=worker, daemon=True) for _ in range(threads - 1)]
    for t in helpers:
        t.start()
    try:
        worker()
    except BaseException:  # e.g. KeyboardInterrupt between two calls: let the helpers stop too
        stop.append(True)
        raise
    finally:
        for t in helpers:
            t.join()
    if errors:
        # An interrupt or exit request outranks ordinary errors; otherwise the lowest index wins.
        raise min(errors, key=lambda e: (isinstance(e[1], Exception), e[0]))[1]
