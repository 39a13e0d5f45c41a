"""Compiling a helper for linking into its callers only, without machine code of its own.

numba finalizes the code library of every function it compiles: it
optimises the function's LLVM module and has LLVM emit machine code for it,
and then links that module into each caller, whose module is optimised
again as a whole and made machine code.  A helper that only kernels call
(:func:`pixscale.kernels.jit_helper`, no Python entry point) never runs its
own machine code, and its own optimisation is done again in every caller.
So a helper here is typed and lowered as numba does it, its functions
optimised one by one (numba does that as the IR is added), and then linked
into its callers as it is: no module optimisation and no machine code of
its own.  The caller's optimisation is numba's, on the whole linked module;
with pixscale's fastmath flags (no ``reassoc``, no ``contract``) it keeps
every IEEE operation, so every result is what it was (the bit-identity and
reference tests hold it).  This took 13% off a first uint8 call's CPU time
and 20% off a first uint16 one's (docs/benchmarks.md, "After (branch
`cold16`)").  Should numba's internals move, :mod:`pixscale.kernels`
compiles the helpers numba's own way.

This module imports numba (and its internals): :mod:`pixscale.kernels`
imports it when the first helper is defined.
"""

from numba import _dynfunc  # type: ignore[attr-defined]
from numba.core import codegen, compiler, dispatcher


class _LinkOnlyLibrary(codegen.JITCodeLibrary):
    """A helper's code library: finalized without a module optimisation and without machine code."""

    def _optimize_final_module(self):
        pass  # each caller optimises the linked module as a whole

    def _finalize_final_module(self):
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        self._finalized = True


class _LinkOnlyCompiler(dispatcher._FunctionCompiler):  # type: ignore[name-defined]
    """numba's function compiler, with a :class:`_LinkOnlyLibrary` for each signature."""

    def _compile_core(self, args, return_type):
        flags = compiler.Flags()
        self.targetdescr.options.parse_as_flags(flags, self.targetoptions)
        flags = self._customize_flags(flags)
        flags.no_compile = True  # no entry point from Python: numba would make one, and machine code with it
        impl = self._get_implementation(args, {})
        context = self.targetdescr.target_context
        library = _LinkOnlyLibrary(context.codegen(), impl.__qualname__)
        cres = compiler.compile_extra(
            self.targetdescr.typing_context,
            context,
            impl,
            args=args,
            return_type=return_type,
            flags=flags,
            locals=self.locals,
            library=library,
            pipeline_class=self.pipeline_class,
        )
        if cres.typing_error is not None and not flags.enable_pyobject:  # pragma: no cover - as numba's
            raise cres.typing_error
        # What numba files the signature under and callers link by: a function object at no address,
        # as numba makes for a function compiled without its Python wrapper.
        fndesc = cres.fndesc
        name = fndesc.qualname.split(".")[-1]
        entry_point = _dynfunc.make_function(fndesc.lookup_module(), name, "", 0, cres.environment, (library,))
        context.insert_user_function(entry_point, fndesc, [library])
        return cres._replace(entry_point=entry_point)


def link_only(disp):
    """Have the numba dispatcher ``disp`` compile each signature for linking into its callers only; returns it."""
    c = disp._compiler
    disp._compiler = _LinkOnlyCompiler(c.py_func, c.targetdescr, c.targetoptions, c.locals, c.pipeline_class)
    return disp
