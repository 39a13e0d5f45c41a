"""Row access for the warp's row loops: borrowed views, without numba's reference counting, and prefetches.

Every array view numba makes (``out[i]``, ``src[y, lo:hi]``) carries its
parent's memory-info pointer, and numba updates that pointer's reference
count atomically as the view is made, passed and dropped.  In the warp's row
loops those locked updates cost more than a fifth of the whole warp at
512 x 512 (measured: 23 of 100 us for the loop with its arithmetic removed,
see docs/benchmarks.md), and each one drains the store buffer the row's
stores are filling.

:func:`row` makes the same view with no memory-info pointer: numba's update
of a null pointer is a test and a return.  The view borrows its parent's
memory, so it must not outlive the parent: only a kernel's local loop uses it,
over arrays its caller owns for the whole call, and never returns or stores it.

:func:`prefetch` asks for a row's bytes ahead of their use: in a 2048² upscale a
new source row, read from memory, held the horizontal pass up (straight at
scale 1.13: 0.75x OpenCV's time without, 0.65x with).

Under ``NUMBA_DISABLE_JIT`` a view is the plain slice and a prefetch nothing.  Editing this module, like
any file of :mod:`pixscale.kernels`, invalidates the compiled kernels (see
:mod:`pixscale.kernels.cache`).
"""

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic


def _view_codegen(context, builder, signature, args):
    """A view of ``arr[i, lo:hi]`` (2-D) or ``arr[lo:hi]`` (1-D) whose memory-info pointer is null."""
    arr_ty = signature.args[0]
    intp = context.get_value_type(types.intp)
    idx = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], signature.args[1:], strict=True)]
    lo, hi = idx[-2], idx[-1]
    src = context.make_array(arr_ty)(context, builder, args[0])
    shape = cgutils.unpack_tuple(builder, src.shape, arr_ty.ndim)
    strides = cgutils.unpack_tuple(builder, src.strides, arr_ty.ndim)
    data = cgutils.get_item_pointer2(context, builder, src.data, shape, strides, arr_ty.layout, idx[:-1])
    out = context.make_array(signature.return_type)(context, builder)
    context.populate_array(
        out,
        data=data,
        shape=cgutils.pack_array(builder, [builder.sub(hi, lo)], intp),
        strides=cgutils.pack_array(builder, [strides[-1]], intp),
        itemsize=src.itemsize,
        meminfo=None,  # borrowed: no reference count to update
    )
    return out._getvalue()


def _typer(ndim):
    def typer(typingctx, arr, *idx):
        ok = (
            isinstance(arr, types.Array)
            and arr.ndim == ndim
            and arr.layout in "CA"
            and len(idx) == ndim + 1
            and all(isinstance(t, types.Integer) for t in idx)
        )
        if not ok:
            return None
        # Rows of a C-contiguous parent are contiguous; any other keeps its last stride.
        view = types.Array(arr.dtype, 1, "C" if arr.layout == "C" else "A", readonly=not arr.mutable)
        return view(arr, *idx), _view_codegen

    return typer


def _row_typer(typingctx, arr, i, lo, hi):
    return _typer(2)(typingctx, arr, i, lo, hi)


def _span_typer(typingctx, arr, lo, hi):
    return _typer(1)(typingctx, arr, lo, hi)


def _prefetch_typer(typingctx, arr, i, lo, hi):
    ok = isinstance(arr, types.Array) and arr.ndim == 2 and all(isinstance(t, types.Integer) for t in (i, lo, hi))
    if not ok:
        return None

    def codegen(context, builder, signature, args):
        arr_ty = signature.args[0]
        i_val, lo_val, hi_val = (
            context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], signature.args[1:], strict=True)
        )
        a = context.make_array(arr_ty)(context, builder, args[0])
        shape = cgutils.unpack_tuple(builder, a.shape, 2)
        strides = cgutils.unpack_tuple(builder, a.strides, 2)
        start = cgutils.get_item_pointer2(context, builder, a.data, shape, strides, arr_ty.layout, [i_val, lo_val])
        bytes_ptr = ir.IntType(8).as_pointer()
        start = builder.bitcast(start, bytes_ptr)
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [bytes_ptr, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        nbytes = builder.mul(builder.sub(hi_val, lo_val), a.itemsize)
        step = context.get_constant(types.intp, 64)
        with cgutils.for_range_slice(builder, context.get_constant(types.intp, 0), nbytes, step) as (off, _):
            # A read (0), kept in every cache level (3), of data (1): one per 64-byte line.
            builder.call(fn, [builder.gep(start, [off]), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, i, lo, hi), codegen


if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]  # set at run time from NUMBA_DISABLE_JIT

    def row(arr, i, lo, hi):
        """``arr[i, lo:hi]`` (plain Python)."""
        return arr[i, lo:hi]

    def span(arr, lo, hi):
        """``arr[lo:hi]`` (plain Python)."""
        return arr[lo:hi]

    def prefetch(arr, i, lo, hi):
        """A hint to the processor (plain Python: nothing)."""

else:
    #: ``row(arr, i, lo, hi)``: ``arr[i, lo:hi]`` of a 2-D array, borrowed.  Nothing is checked:
    #: ``0 <= i < arr.shape[0]`` and ``0 <= lo <= hi <= arr.shape[1]`` are the caller's to ensure.
    row = intrinsic(_row_typer)  # type: ignore[assignment]
    #: ``span(arr, lo, hi)``: ``arr[lo:hi]`` of a 1-D array, borrowed, unchecked alike.
    span = intrinsic(_span_typer)  # type: ignore[assignment]
    #: ``prefetch(arr, i, lo, hi)``: ask the processor to bring ``arr[i, lo:hi]`` (2-D) into its caches,
    #: one request per 64 bytes, and go on; a hint, which reads nothing and cannot fault.
    prefetch = intrinsic(_prefetch_typer)  # type: ignore[assignment]
