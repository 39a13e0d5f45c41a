"""Hand-written SIMD for the horizontal pass: one pixel's four channels as one vector.

The horizontal pass of the warp reads two source pixels at data-dependent
offsets per output pixel.  Across pixels that is a gather, which LLVM's loop
vectoriser will not emit here; across the four channels of a pixel it is one
16-byte load, the bundling LLVM's SLP vectoriser would do, but numba keeps SLP
off for the whole process (numba#8852) and pixscale changes no global numba
setting.  :func:`lerp4` therefore emits the vector code itself, as a numba
intrinsic that is inlined into the calling kernel:

    dst[o:o+4] = a * src[p:p+4] + b * src[q:q+4]           (straight)
    dst[o:o+4] = (a*s3) * src[p:p+4] + (b*t3) * src[q:q+4]  (premultiplied,
    dst[o+3]   = a*s3 + b*t3                                 s3 = src[p+3], t3 = src[q+3])

with the source converted to the float type of ``dst`` on load.  Every lane
performs the same IEEE multiply and add, in the same order, as the scalar code
in :func:`pixscale.kernels.bilinear._gather`, and numba gives both the same fast-math
flags (``nsz``, ``arcp``, ``afn``, none of which changes a product or a sum),
so results are bit-identical to it (``tests/kernels/test_warp.py`` holds them together).

:func:`blend_store16` (and :func:`store16`, without the blend) does the same for the last step of a premultiplied
RGBA warp with an integer output (:func:`pixscale.kernels.bilinear._blend_finish4`):
four pixels in one 16-lane vector, blended, divided back by their alpha and
rounded as :func:`pixscale.kernels.store.store_premult4` does one pixel, the
same IEEE operations per lane, so no deinterleaving of the channels across
pixels is needed.

Offsets are element indices and are not bounds-checked: callers pass
offsets of whole pixels inside ``src`` and ``dst``.  ``dst`` must be
C-contiguous (checked when the caller is compiled); ``src`` may have any
stride: a source of numba layout "A" is tested at run time and read with one
vector load when its stride is one element, as it is in the warp, else with
four strided loads.  Under ``NUMBA_DISABLE_JIT`` the
same operation runs as plain Python.

Editing this module, like any file of :mod:`pixscale.kernels`, invalidates the
compiled kernels (see :mod:`pixscale.kernels.cache`).
"""

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

_I32 = ir.IntType(32)


def _lerp4_codegen(premult):
    def codegen(context, builder, signature, args):
        src, p, q, a, b, dst, o = args
        src_ty, dst_ty = signature.args[0], signature.args[5]
        src_arr = context.make_array(src_ty)(context, builder, src)
        dst_arr = context.make_array(dst_ty)(context, builder, dst)
        s_el = context.get_value_type(src_ty.dtype)
        f_el = context.get_value_type(dst_ty.dtype)
        vec_s = ir.VectorType(s_el, 4)
        vec_f = ir.VectorType(f_el, 4)

        itemsize = src_ty.dtype.bitwidth // 8

        def vector_load(offset):
            ptr = builder.bitcast(builder.gep(src_arr.data, [offset]), vec_s.as_pointer())
            return builder.load(ptr, align=itemsize)

        def strided_load(offset, stride):
            # Four scalar loads that honour the array's stride.
            (shape,) = cgutils.unpack_tuple(builder, src_arr.shape, 1)
            v = ir.Constant(vec_s, ir.Undefined)
            for c in range(4):
                k = builder.add(offset, ir.Constant(offset.type, c))
                ptr = cgutils.get_item_pointer2(context, builder, src_arr.data, [shape], [stride], "A", [k])
                v = builder.insert_element(v, builder.load(ptr), ir.Constant(_I32, c))
            return v

        def load(offset):
            if src_ty.layout == "C":
                v = vector_load(offset)
            else:  # unit stride (the usual case) takes the vector load all the same
                (stride,) = cgutils.unpack_tuple(builder, src_arr.strides, 1)
                unit = builder.icmp_signed("==", stride, ir.Constant(stride.type, itemsize))
                with builder.if_else(unit) as (then, otherwise):
                    with then:
                        v_unit = vector_load(offset)
                        bb_unit = builder.block
                    with otherwise:
                        v_strided = strided_load(offset, stride)
                        bb_strided = builder.block
                v = builder.phi(vec_s)
                v.add_incoming(v_unit, bb_unit)
                v.add_incoming(v_strided, bb_strided)
            if isinstance(src_ty.dtype, types.Integer):
                return builder.sitofp(v, vec_f) if src_ty.dtype.signed else builder.uitofp(v, vec_f)  # type: ignore[attr-defined]
            if src_ty.dtype.bitwidth < dst_ty.dtype.bitwidth:
                return builder.fpext(v, vec_f)
            if src_ty.dtype.bitwidth > dst_ty.dtype.bitwidth:
                return builder.fptrunc(v, vec_f)
            return v

        def splat(x):
            v = builder.insert_element(ir.Constant(vec_f, ir.Undefined), x, ir.Constant(_I32, 0))
            return builder.shuffle_vector(
                v, ir.Constant(vec_f, ir.Undefined), ir.Constant(ir.VectorType(_I32, 4), [0] * 4)
            )

        pv = load(p)
        qv = load(q)
        if premult:
            # The weights times alpha, a * s3 and b * t3, formed in every lane (one shuffle and one
            # vector multiply each, no scalar round trip), and alpha's lane replaced by 1.0 so that
            # the blend below leaves a * s3 + b * t3 there: the same products and sum, bit for bit.
            lanes3 = ir.Constant(ir.VectorType(_I32, 4), [3] * 4)
            av = builder.fmul(splat(a), builder.shuffle_vector(pv, ir.Constant(vec_f, ir.Undefined), lanes3))
            bv = builder.fmul(splat(b), builder.shuffle_vector(qv, ir.Constant(vec_f, ir.Undefined), lanes3))
            ones = ir.Constant(vec_f, [1.0] * 4)
            keep3 = ir.Constant(ir.VectorType(_I32, 4), [0, 1, 2, 7])
            pv = builder.shuffle_vector(pv, ones, keep3)
            qv = builder.shuffle_vector(qv, ones, keep3)
            r = builder.fadd(builder.fmul(av, pv), builder.fmul(bv, qv))
        else:
            r = builder.fadd(builder.fmul(splat(a), pv), builder.fmul(splat(b), qv))
        ptr = builder.bitcast(builder.gep(dst_arr.data, [o]), vec_f.as_pointer())
        builder.store(r, ptr, align=dst_ty.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return codegen


def _make(name, premult):
    def typer(typingctx, src, p, q, a, b, dst, o):
        ok = (
            isinstance(src, types.Array)
            and isinstance(dst, types.Array)
            and src.ndim == 1
            and dst.ndim == 1
            and dst.layout == "C"
            and isinstance(src.dtype, (types.Integer, types.Float))
            and isinstance(dst.dtype, types.Float)
            and a == dst.dtype
            and b == dst.dtype
            and all(isinstance(t, types.Integer) for t in (p, q, o))
        )
        if not ok:
            return None
        return types.void(src, p, q, a, b, dst, o), _lerp4_codegen(premult)

    typer.__name__ = typer.__qualname__ = name
    return typer


def _lerp4_py(src, p, q, a, b, dst, o, premult=False):
    p, q, o = int(p), int(q), int(o)  # numpy 1.x makes uint64 + int a float
    f = dst.dtype.type
    s = [f(src[p + c]) for c in range(4)]
    t = [f(src[q + c]) for c in range(4)]
    if premult:
        a = a * s[3]
        b = b * t[3]
    for c in range(4):
        dst[o + c] = a * s[c] + b * t[c]
    if premult:
        dst[o + 3] = a + b


def has_byte_shuffle(context):
    """Whether the target compiles a variable byte shuffle (x86's SSSE3 ``pshufb``) in one instruction."""
    triple, _, features = context.codegen().magic_tuple()
    return triple.startswith(("x86_64", "i386", "i686")) and "+ssse3" in features.split(",")


def _lerp16_codegen(premult, window=False, divide=False):
    """Four output pixels ``j..j+3`` whose taps are adjacent source pixels: :func:`_lerp4_codegen`, 16 lanes.

    With ``window`` (a uint8 source; arguments ``src, xo0, ctl, wx0, wx1, j, g, dst``)
    the four pixels' taps are read as two 16-byte windows, from ``xo0[j]``
    and one pixel on, and picked out of them by the byte shuffle
    ``ctl[16 * g:16 * g + 16]`` (see :func:`pixscale.kernels.rgba8.window_controls`):
    three loads for eight, on a target with :func:`has_byte_shuffle`; elsewhere
    the taps are loaded as without ``window``.  The same values either way.
    """

    def codegen(context, builder, signature, args):
        if window:
            src, xo0, ctl, wx0, wx1, j, g, dst = args
            src_ty, xo_ty, ctl_ty, w_ty, dst_ty = (signature.args[i] for i in (0, 1, 2, 3, 7))
        elif divide:
            src, xo0, wx0, wx1, j, maxval, dst = args
            src_ty, xo_ty, w_ty, dst_ty = signature.args[0], signature.args[1], signature.args[2], signature.args[6]
        else:
            src, xo0, wx0, wx1, j, dst = args
            src_ty, xo_ty, w_ty, dst_ty = signature.args[0], signature.args[1], signature.args[2], signature.args[5]
        s_el = context.get_value_type(src_ty.dtype)
        f_el = context.get_value_type(w_ty.dtype)
        vec_f = ir.VectorType(f_el, 16)
        undef_f = ir.Constant(vec_f, ir.Undefined)
        itemsize = src_ty.dtype.bitwidth // 8
        fsize = w_ty.dtype.bitwidth // 8

        def data(ty, arr):
            return context.make_array(ty)(context, builder, arr).data

        def shuffle(a, b, mask):
            return builder.shuffle_vector(a, b, ir.Constant(ir.VectorType(_I32, len(mask)), mask))

        offsets = builder.gep(data(xo_ty, xo0), [j])
        src_data = data(src_ty, src)
        if window and has_byte_shuffle(context):
            # Two 16-byte windows, at the first pixel's left tap and one pixel on; the control
            # picks each pixel's left tap from the first and its right tap (the next pixel) from the second.
            vec16 = ir.VectorType(s_el, 16)
            base = builder.load(offsets, align=8)
            windows = []
            for shift in (0, 4):
                at = builder.add(base, ir.Constant(base.type, shift))
                windows.append(builder.load(builder.bitcast(builder.gep(src_data, [at]), vec16.as_pointer()), align=1))
            at = builder.mul(g, ir.Constant(g.type, 16))
            c = builder.load(builder.bitcast(builder.gep(data(ctl_ty, ctl), [at]), vec16.as_pointer()), align=1)
            pshufb = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vec16, [vec16, vec16]), "llvm.x86.ssse3.pshuf.b.128"
            )
            s = builder.call(pshufb, [windows[0], c])
            t = builder.call(pshufb, [windows[1], c])
            alphas = shuffle(s, t, [4 * k + 3 for k in range(8)])
        else:
            # The four pixel pairs (p, p + 4): one 8-value load each, joined into one 32-value vector.
            vec8 = ir.VectorType(s_el, 8)
            pairs = []
            for k in range(4):
                off = builder.load(builder.gep(offsets, [ir.Constant(j.type, k)]), align=8)
                ptr = builder.bitcast(builder.gep(src_data, [off]), vec8.as_pointer())
                pairs.append(builder.load(ptr, align=itemsize))
            lo = shuffle(pairs[0], pairs[1], list(range(16)))
            hi = shuffle(pairs[2], pairs[3], list(range(16)))
            v = shuffle(lo, hi, list(range(32)))
            s = shuffle(v, v, [8 * (k // 4) + k % 4 for k in range(16)])
            t = shuffle(v, v, [8 * (k // 4) + 4 + k % 4 for k in range(16)])
            alphas = shuffle(v, v, [8 * (k // 2) + 4 * (k % 2) + 3 for k in range(8)])

        def to_float(x):
            if isinstance(src_ty.dtype, types.Integer):
                return builder.sitofp(x, vec_f) if src_ty.dtype.signed else builder.uitofp(x, vec_f)  # type: ignore[attr-defined]
            if src_ty.dtype.bitwidth < w_ty.dtype.bitwidth:
                return builder.fpext(x, vec_f)
            if src_ty.dtype.bitwidth > w_ty.dtype.bitwidth:
                return builder.fptrunc(x, vec_f)
            return x

        rounded = isinstance(dst_ty.dtype, types.Integer)  # stored as rounded() does, less its clip
        vec_out = ir.VectorType(context.get_value_type(dst_ty.dtype), 16) if rounded else vec_f
        out = builder.bitcast(
            builder.gep(data(dst_ty, dst), [builder.mul(j, ir.Constant(j.type, 4))]), vec_out.as_pointer()
        )

        def blend(s, t):
            s, t = to_float(s), to_float(t)
            vec4 = ir.VectorType(f_el, 4)

            def weights(arr):  # wx[j..j+3], each repeated over its pixel's four lanes
                ptr = builder.bitcast(builder.gep(data(w_ty, arr), [j]), vec4.as_pointer())
                w = builder.load(ptr, align=fsize)
                return shuffle(w, w, [k // 4 for k in range(16)])

            a, b = weights(wx0), weights(wx1)
            if premult:
                # As lerp4_premult: the weights times alpha in every lane, alpha's lane set to 1.0.
                alpha = [4 * (k // 4) + 3 for k in range(16)]
                a = builder.fmul(a, shuffle(s, undef_f, alpha))
                b = builder.fmul(b, shuffle(t, undef_f, alpha))
                ones = ir.Constant(vec_f, [1.0] * 16)
                keep = [k if k % 4 < 3 else 16 + k for k in range(16)]
                s = shuffle(s, ones, keep)
                t = shuffle(t, ones, keep)
            r = builder.fadd(builder.fmul(a, s), builder.fmul(b, t))
            if divide:  # premultiplied values, stored divided back by their alpha: blend_store16's last step
                _divide_store(context, builder, r, maxval, dst_ty, w_ty, out, clip=False)
                return
            if rounded:
                r = builder.fadd(r, ir.Constant(vec_f, [0.5] * 16))
                r = builder.fptoui(r, vec_out)
            builder.store(r, out, align=dst_ty.dtype.bitwidth // 8)

        if premult and isinstance(src_ty.dtype, types.Integer) and not src_ty.dtype.signed:  # type: ignore[attr-defined]
            # Four pixels whose eight source alphas are all 0 (the background): every lane is
            # (w * 0) * x or a sum of such, +0 (the weights are >= 0, the source unsigned), so
            # +0 is stored and the rest skipped.
            seen = builder.icmp_unsigned("!=", alphas, ir.Constant(ir.VectorType(s_el, 8), None))
            seen = builder.icmp_unsigned("!=", builder.bitcast(seen, ir.IntType(8)), ir.Constant(ir.IntType(8), 0))
            with builder.if_else(seen) as (then, otherwise):
                with otherwise:
                    builder.store(ir.Constant(vec_f, None), out, align=fsize)
                with then:
                    blend(s, t)
        else:
            blend(s, t)
        return context.get_dummy_value()

    return codegen


def _make16(name, premult):
    def typer(typingctx, src, xo0, wx0, wx1, j, dst):
        ok = (
            all(isinstance(t, types.Array) and t.ndim == 1 for t in (src, xo0, wx0, wx1, dst))
            and all(t.layout == "C" for t in (xo0, wx0, wx1, dst))
            and isinstance(src.dtype, (types.Integer, types.Float))
            and isinstance(wx0.dtype, types.Float)
            and wx0.dtype == wx1.dtype
            # a float ``dst`` of the weights' type, or (straight only) an unsigned one: stored rounded
            and (
                dst.dtype == wx0.dtype
                or (not premult and isinstance(dst.dtype, types.Integer) and not dst.dtype.signed)  # type: ignore[attr-defined]
            )
            and isinstance(xo0.dtype, types.Integer)
            and xo0.dtype.bitwidth == 64  # type: ignore[attr-defined]
            and isinstance(j, types.Integer)
        )
        if not ok:
            return None
        return types.void(src, xo0, wx0, wx1, j, dst), _lerp16_codegen(premult)

    typer.__name__ = typer.__qualname__ = name
    return typer


def _lerp16_divide_typer(typingctx, src, xo0, wx0, wx1, j, maxval, dst):
    """``lerp16_divide``: :func:`lerp16` of a float row of premultiplied values, stored as :func:`blend_store16` stores.

    For the bilinear downscale's premultiplied rows: the horizontal pass of
    the vertical blend, then colour divided by alpha, rounded into the
    unsigned ``dst``, in the same 16 lanes (without the clip, a no-op on a
    bilinear blend's values: see :func:`_blend_store16_typer`).
    """
    ok = (
        all(isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C" for t in (src, xo0, wx0, wx1, dst))
        and isinstance(src.dtype, types.Float)
        and src.dtype == wx0.dtype == wx1.dtype == maxval
        and isinstance(dst.dtype, types.Integer)
        and not dst.dtype.signed  # type: ignore[attr-defined]
        and isinstance(xo0.dtype, types.Integer)
        and xo0.dtype.bitwidth == 64  # type: ignore[attr-defined]
        and isinstance(j, types.Integer)
    )
    if not ok:
        return None
    return types.void(src, xo0, wx0, wx1, j, maxval, dst), _lerp16_codegen(False, divide=True)


def _make16w(name, premult):
    def typer(typingctx, src, xo0, ctl, wx0, wx1, j, g, dst):
        ok = (
            all(isinstance(t, types.Array) and t.ndim == 1 for t in (src, xo0, ctl, wx0, wx1, dst))
            and all(t.layout == "C" for t in (xo0, ctl, wx0, wx1, dst))
            and src.dtype == types.uint8
            and ctl.dtype == types.uint8
            and isinstance(wx0.dtype, types.Float)
            and wx0.dtype == wx1.dtype == dst.dtype
            and isinstance(xo0.dtype, types.Integer)
            and xo0.dtype.bitwidth == 64  # type: ignore[attr-defined]
            and isinstance(j, types.Integer)
            and isinstance(g, types.Integer)
        )
        if not ok:
            return None
        return types.void(src, xo0, ctl, wx0, wx1, j, g, dst), _lerp16_codegen(premult, window=True)

    typer.__name__ = typer.__qualname__ = name
    return typer


def _lerp16w_py(src, xo0, ctl, wx0, wx1, j, g, dst, premult=False):
    # The window's control picks the taps lerp16 reads from xo0 (it is checked against them, then unused).
    base = int(xo0[j])
    for k in range(4):
        assert int(ctl[16 * g + 4 * k]) == int(xo0[j + k]) - base
    _lerp16_py(src, xo0, wx0, wx1, j, dst, premult)


def _lerp16_py(src, xo0, wx0, wx1, j, dst, premult=False):
    f = wx0.dtype.type
    v = dst if dst.dtype.kind == "f" else np.zeros(len(dst), f)  # an unsigned dst is stored rounded
    for k in range(j, j + 4):
        p = int(xo0[k])
        _lerp4_py(src, p, p + 4, wx0[k], wx1[k], v, 4 * k, premult)
    if v is not dst:
        for o in range(4 * j, 4 * j + 16):
            dst[o] = v[o] + f(0.5)


def _blend_store16_codegen(context, builder, signature, args):
    """Four premultiplied RGBA pixels, blended and stored: :func:`pixscale.kernels.store.store_premult4`, 16 lanes."""
    if len(args) == 4:  # store16: the values as they are, no blend
        ba, maxval, orow, o = args
        f_ty, o_ty = signature.args[0], signature.args[2]
    else:
        ba, bb, a, b, maxval, orow, o = args
        f_ty, o_ty = signature.args[0], signature.args[5]
    f_el = context.get_value_type(f_ty.dtype)
    o_el = context.get_value_type(o_ty.dtype)
    vec = ir.VectorType(f_el, 16)
    idx = ir.VectorType(_I32, 16)
    undef = ir.Constant(vec, ir.Undefined)

    def load(arr_ty, arr):
        data = context.make_array(arr_ty)(context, builder, arr).data
        ptr = builder.bitcast(builder.gep(data, [o]), vec.as_pointer())
        return builder.load(ptr, align=f_ty.dtype.bitwidth // 8)

    def splat(x):
        v = builder.insert_element(undef, x, ir.Constant(_I32, 0))
        return builder.shuffle_vector(v, undef, ir.Constant(idx, [0] * 16))

    # c = a * ba + b * bb, lane by lane: the blend of _blend_finish4.
    if len(args) == 4:
        c = load(f_ty, ba)
    else:
        c = builder.fadd(builder.fmul(splat(a), load(f_ty, ba)), builder.fmul(splat(b), load(f_ty, bb)))
    o_vec = ir.VectorType(o_el, 16)
    data = context.make_array(o_ty)(context, builder, orow).data
    ptr = builder.bitcast(builder.gep(data, [o]), o_vec.as_pointer())
    # store16 clips (the tap filters ring past the range); blend_store16 needs no clip: see its typer.
    _divide_store(context, builder, c, maxval, o_ty, f_ty, ptr, clip=len(args) == 4)
    return context.get_dummy_value()


def _divide_store(context, builder, c, maxval, o_ty, f_ty, ptr, clip):
    """Store the 16 premultiplied RGBA values ``c`` at ``ptr``: colour divided by alpha, rounded.

    (The arithmetic is :func:`_store_divided`'s.)

    Four pixels whose alphas are all below 0.5 store 16 zeros (colour times 0,
    alpha rounded down), as the arithmetic would: the background's groups skip it.
    """
    vec = c.type
    undef = ir.Constant(vec, ir.Undefined)
    o_vec = ir.VectorType(context.get_value_type(o_ty.dtype), 16)
    wa = builder.shuffle_vector(c, undef, ir.Constant(ir.VectorType(_I32, 16), [4 * (k // 4) + 3 for k in range(16)]))
    visible = builder.fcmp_ordered(">=", wa, ir.Constant(vec, [0.5] * 16))
    seen = builder.icmp_unsigned("!=", builder.bitcast(visible, ir.IntType(16)), ir.Constant(ir.IntType(16), 0))
    with builder.if_else(seen) as (then, otherwise):
        with otherwise:
            builder.store(ir.Constant(o_vec, None), ptr, align=o_ty.dtype.bitwidth // 8)
        with then:
            _store_divided(context, builder, c, wa, visible, maxval, o_vec, o_ty, f_ty, ptr, clip)


def _store_divided(context, builder, c, wa, visible, maxval, o_vec, o_ty, f_ty, ptr, clip):
    """The rest of :func:`_blend_store16_codegen`: colour divided by alpha, clipped (with ``clip``), rounded, stored."""
    vec = c.type
    idx = ir.VectorType(_I32, 16)
    undef = ir.Constant(vec, ir.Undefined)

    def splat(x):
        v = builder.insert_element(undef, x, ir.Constant(_I32, 0))
        return builder.shuffle_vector(v, undef, ir.Constant(idx, [0] * 16))

    # One reciprocal per pixel: four lanes divided, not sixteen (the same IEEE division of each alpha).
    vec4 = ir.VectorType(vec.element, 4)
    idx4 = ir.VectorType(_I32, 4)
    wa4 = builder.shuffle_vector(wa, undef, ir.Constant(idx4, [0, 4, 8, 12]))
    inv4 = builder.fdiv(ir.Constant(vec4, [1.0] * 4), wa4)
    inv4 = builder.select(
        builder.fcmp_ordered(">=", wa4, ir.Constant(vec4, [0.5] * 4)), inv4, ir.Constant(vec4, [0.0] * 4)
    )
    # Colour times 1/alpha (0 where alpha < 0.5), alpha times 1.0 (itself).
    m = builder.shuffle_vector(
        inv4, ir.Constant(vec4, [1.0] * 4), ir.Constant(idx, [k // 4 if k % 4 < 3 else 4 for k in range(16)])
    )
    x = builder.fmul(c, m)
    if clip:
        # rounded(): clipped to [0, maxval] plus a half, truncated by the integer store.
        zero = ir.Constant(vec, [0.0] * 16)
        x = builder.select(builder.fcmp_ordered(">", x, zero), x, zero)
        top = splat(maxval)
        x = builder.select(builder.fcmp_ordered("<", x, top), x, top)
    x = builder.fadd(x, ir.Constant(vec, [0.5] * 16))
    if isinstance(o_ty.dtype, types.Integer):
        r = builder.fptosi(x, o_vec) if o_ty.dtype.signed else builder.fptoui(x, o_vec)  # type: ignore[attr-defined]
    elif o_ty.dtype.bitwidth > f_ty.dtype.bitwidth:  # float outputs (typed, never run: they take no rounding)
        r = builder.fpext(x, o_vec)
    elif o_ty.dtype.bitwidth < f_ty.dtype.bitwidth:
        r = builder.fptrunc(x, o_vec)
    else:
        r = x
    builder.store(r, ptr, align=o_ty.dtype.bitwidth // 8)


def _blend_store16_typer(typingctx, ba, bb, a, b, maxval, orow, o):
    """``blend_store16``: the last step of a bilinear premultiplied warp, rounded as ``rounded()`` less its clip.

    Its input is a convex blend of premultiplied pixels of an unsigned
    source: every value >= 0 and each colour at most ``maxval`` times its
    alpha, within a few float32 roundings, so colour / alpha stays below
    ``maxval * (1 + 1e-6)`` and the clip to ``[0, maxval]`` changes nothing
    (it is left out: a tenth of the premultiplied upscale's time).  Values
    outside that domain are not clipped: :func:`store16` (the tap filters'
    store, whose negative lobes leave the range) clips.
    """
    ok = (
        all(isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C" for t in (ba, bb, orow))
        and isinstance(ba.dtype, types.Float)
        and ba.dtype == bb.dtype == a == b == maxval
        and isinstance(orow.dtype, (types.Integer, types.Float))
        and isinstance(o, types.Integer)
    )
    if not ok:
        return None
    return types.void(ba, bb, a, b, maxval, orow, o), _blend_store16_codegen


def _store16_typer(typingctx, v, maxval, orow, o):
    ok = (
        all(isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C" for t in (v, orow))
        and isinstance(v.dtype, types.Float)
        and v.dtype == maxval
        and isinstance(orow.dtype, (types.Integer, types.Float))
        and isinstance(o, types.Integer)
    )
    if not ok:
        return None
    return types.void(v, maxval, orow, o), _blend_store16_codegen


def _lerp16_divide_py(src, xo0, wx0, wx1, j, maxval, dst):
    v = np.zeros(4 * (j + 4), src.dtype)
    _lerp16_py(src, xo0, wx0, wx1, j, v)
    for k in range(4 * j, 4 * j + 16, 4):
        _store4_py(v[k : k + 4], maxval, dst, k)


def _store4_py(c, maxval, orow, k):
    # The lanes of one pixel, as store.store_premult4 computes them (not imported: store imports this module).
    f = type(maxval)
    inv = f(1.0) / c[3] if c[3] >= f(0.5) else f(0.0)
    for i in range(4):
        x = c[i] * inv if i < 3 else c[i]
        orow[k + i] = min(max(x, f(0.0)), maxval) + f(0.5)


if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]  # set at run time from NUMBA_DISABLE_JIT

    def lerp4(src, p, q, a, b, dst, o):
        """Straight-alpha blend of two four-channel pixels (plain Python)."""
        _lerp4_py(src, p, q, a, b, dst, o)

    def lerp4_premult(src, p, q, a, b, dst, o):
        """Premultiplied blend of two four-channel pixels (plain Python)."""
        _lerp4_py(src, p, q, a, b, dst, o, premult=True)

    def lerp16(src, xo0, wx0, wx1, j, dst):
        """Straight-alpha blend of four pixels whose taps are adjacent (plain Python)."""
        _lerp16_py(src, xo0, wx0, wx1, j, dst)

    def lerp16_premult(src, xo0, wx0, wx1, j, dst):
        """Premultiplied blend of four pixels whose taps are adjacent (plain Python)."""
        _lerp16_py(src, xo0, wx0, wx1, j, dst, premult=True)

    def lerp16_window(src, xo0, ctl, wx0, wx1, j, g, dst):
        """:func:`lerp16` through a byte-shuffle window (plain Python)."""
        _lerp16w_py(src, xo0, ctl, wx0, wx1, j, g, dst)

    def lerp16_window_premult(src, xo0, ctl, wx0, wx1, j, g, dst):
        """:func:`lerp16_premult` through a byte-shuffle window (plain Python)."""
        _lerp16w_py(src, xo0, ctl, wx0, wx1, j, g, dst, premult=True)

    def lerp16_divide(src, xo0, wx0, wx1, j, maxval, dst):
        """:func:`lerp16` of premultiplied values, divided back and stored (plain Python)."""
        _lerp16_divide_py(src, xo0, wx0, wx1, j, maxval, dst)

    def blend_store16(ba, bb, a, b, maxval, orow, o):
        """Blend and store four premultiplied RGBA pixels (plain Python)."""
        for k in range(o, o + 16, 4):
            _store4_py([a * ba[k + i] + b * bb[k + i] for i in range(4)], maxval, orow, k)

    def store16(v, maxval, orow, o):
        """Store four premultiplied RGBA pixels (plain Python)."""
        for k in range(o, o + 16, 4):
            _store4_py([v[k + i] for i in range(4)], maxval, orow, k)
else:
    lerp4 = intrinsic(_make("lerp4", False))
    lerp4_premult = intrinsic(_make("lerp4_premult", True))
    lerp16 = intrinsic(_make16("lerp16", False))
    lerp16_premult = intrinsic(_make16("lerp16_premult", True))
    lerp16_window = intrinsic(_make16w("lerp16_window", False))
    lerp16_window_premult = intrinsic(_make16w("lerp16_window_premult", True))
    blend_store16 = intrinsic(_blend_store16_typer)  # type: ignore[assignment]
    lerp16_divide = intrinsic(_lerp16_divide_typer)  # type: ignore[assignment]
    store16 = intrinsic(_store16_typer)  # type: ignore[assignment]
