"""Cold start: what the first calls cost in a new process, and which kernel compiles take the time.

Usage::

    python benchmarks/coldstart.py [--repeat 2] [--size 256] [--json benchmarks/results/coldstart.json]
    python benchmarks/coldstart.py --trees OLD_TREE NEW_TREE [--repeat 3]

With ``--trees`` it compares source trees (checkouts of pixscale) side by side
instead: ``--repeat`` rounds, each a cold child and then a warm one per tree
(``PYTHONPATH`` set to the tree), the trees' order alternating between rounds
so a slow spell of a shared machine hits both; it prints every row and each
tree's medians.

Every measurement runs in a fresh child process (this script with ``--child``)
whose kernel caches are new, empty temporary folders (``PIXSCALE_CACHE_DIR``
and ``NUMBA_CACHE_DIR``).  A child imports pixscale and then, one after the
other, times (wall and the child's own CPU) these stages:

1. the first ``pixscale.normalize`` of a uint8 RGBA image (numba's import included);
2. then a first uint16 RGBA image;
3. then a first ``filter="auto"`` call that shrinks (the area filter);
4. then a first ``filter="auto"`` call that enlarges (the Lanczos-4 filter).

Sections:

* cold: ``--repeat`` plain children with empty caches (nothing but the calls);
* warm: one child that reuses the folders a cold child filled;
* compile table: one more cold child with a listener on numba's event API
  (``numba.core.event``, the ``"numba:compile"`` and ``"numba:llvm_lock"``
  events, the same in numba 0.58 and 0.68): for every signature of every
  dispatcher of ``pixscale/kernels/*.py`` that those calls compile, the stage
  that compiled it, its own compile time (CPU time of the compiling thread,
  so that a loaded machine does not inflate it; without the nested compiles
  of the kernels it calls, which numba compiles first and on their own) and
  the part of it spent holding the LLVM lock (optimisation and machine code).
  Its stage times are listed too: the listener itself costs a little.

``--tree PATH`` runs every child on that checkout of pixscale (``PYTHONPATH``)
instead of the one this script's interpreter imports.

numba compiles a kernel's callee (another ``@jit`` function) as a dispatcher of
its own, with its own machine code, and then links its IR into the caller's
module and optimises it again there; a nested compile is counted once, at its
own row, and the caller's row holds the rest.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: (name, what the stage calls); the image is made before the clock starts.
STAGES = [
    ("uint8", "normalize(uint8 RGBA)"),
    ("uint16", "then normalize(uint16 RGBA)"),
    ("auto_area", 'then normalize(uint8, filter="auto", target=0.1): shrinks, area'),
    ("auto_lanczos", 'then normalize(uint8, filter="auto", target=0.6): enlarges, Lanczos-4'),
]


class _CompileRecorder:
    """A numba event listener: one record per compiled signature, with its own (exclusive) times."""

    def __init__(self):
        self.records = []
        self.stage = None
        self._stack = []
        self._llvm_depth = 0
        self._llvm_t0 = 0.0

    def on_start(self, event):
        if event.kind == "numba:compile":
            self._stack.append({"data": event.data, "t0": time.thread_time(), "nested": 0.0, "llvm": 0.0})
        elif event.kind == "numba:llvm_lock":
            self._llvm_depth += 1
            if self._llvm_depth == 1:
                self._llvm_t0 = time.thread_time()

    def on_end(self, event):
        now = time.thread_time()
        if event.kind == "numba:llvm_lock":
            self._llvm_depth -= 1
            if self._llvm_depth == 0 and self._stack:
                self._stack[-1]["llvm"] += now - self._llvm_t0
            return
        if event.kind != "numba:compile" or not self._stack:
            return
        frame = self._stack.pop()
        total = now - frame["t0"]
        if self._stack:
            self._stack[-1]["nested"] += total
        disp = frame["data"]["dispatcher"]
        func = disp.py_func
        self.records.append(
            {
                "stage": self.stage,
                "kernel": f"{func.__module__.rsplit('.', 1)[-1]}.{func.__name__}",
                "module": func.__module__,
                "signature": "(" + ", ".join(str(a) for a in frame["data"]["args"]) + ")",
                "self_s": total - frame["nested"],
                "llvm_s": frame["llvm"],
                "inclusive_s": total,
                "depth": len(self._stack),
            }
        )

    # numba's Listener is an ABC with exactly these two methods; registering a subclass
    # instance is what numba.core.event.register expects.
    def listener(self):
        from numba.core import event

        recorder = self

        class _Listener(event.Listener):
            def on_start(self, ev):
                recorder.on_start(ev)

            def on_end(self, ev):
                recorder.on_end(ev)

        return _Listener()


def _kernel_dispatchers():
    """Every numba dispatcher defined in pixscale/kernels/*.py, by ``module.name``."""
    import importlib
    import pkgutil

    from numba.core.dispatcher import Dispatcher

    import pixscale.kernels

    found = {}
    for info in pkgutil.iter_modules(pixscale.kernels.__path__):
        mod = info.name
        m = importlib.import_module(f"pixscale.kernels.{mod}")
        for name, obj in vars(m).items():
            if isinstance(obj, Dispatcher) and obj.py_func.__module__ == m.__name__:
                found[f"{mod}.{name}"] = obj
    return found


def child(size, instrument):
    """Run the stages in this process and print one JSON object."""
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    import numpy as np

    import pixscale
    from pixscale.bench import test_image

    result: dict[str, Any] = {"import_pixscale_s": time.perf_counter() - t_wall, "stages": []}
    recorder = None
    if instrument:
        t0 = time.perf_counter()
        from numba.core import event

        recorder = _CompileRecorder()
        listener = recorder.listener()
        event.register("numba:compile", listener)
        event.register("numba:llvm_lock", listener)
        result["import_numba_s"] = time.perf_counter() - t0
    img8 = test_image(size)
    img16 = img8.astype(np.uint16) * 257
    calls = {
        "uint8": lambda: pixscale.normalize(img8),
        "uint16": lambda: pixscale.normalize(img16),
        "auto_area": lambda: pixscale.normalize(img8, filter="auto", target=0.1),
        "auto_lanczos": lambda: pixscale.normalize(img8, filter="auto", target=0.6),
    }
    for name, _ in STAGES:
        if recorder is not None:
            recorder.stage = name
        w0, c0 = time.perf_counter(), time.process_time()
        calls[name]()
        result["stages"].append({"stage": name, "wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0})
    result["total_wall_s"] = time.perf_counter() - t_wall
    result["total_cpu_s"] = time.process_time() - t_cpu
    disps = _kernel_dispatchers()
    result["cache_hits"] = sum(sum(d.stats.cache_hits.values()) for d in disps.values())
    result["cache_misses"] = sum(sum(d.stats.cache_misses.values()) for d in disps.values())
    result["signatures"] = {k: len(d.overloads) for k, d in sorted(disps.items())}
    if recorder is not None:
        result["compiles"] = recorder.records
    print(json.dumps(result))


def _spawn(size, cache, instrument=False, tree=None):
    env = dict(
        os.environ, PIXSCALE_CACHE_DIR=os.path.join(cache, "pixscale"), NUMBA_CACHE_DIR=os.path.join(cache, "numba")
    )
    if tree is not None:
        env["PYTHONPATH"] = str(Path(tree).resolve())
    cmd = [sys.executable, __file__, "--child", "--size", str(size)] + (["--instrument"] if instrument else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"the child {' '.join(cmd[1:])} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _stage_row(label, res):
    row = {"run": label, "import_pixscale_s": res["import_pixscale_s"]}
    for s in res["stages"]:
        row[f"{s['stage']}_wall_s"] = s["wall_s"]
        row[f"{s['stage']}_cpu_s"] = s["cpu_s"]
    row["total_wall_s"], row["total_cpu_s"] = res["total_wall_s"], res["total_cpu_s"]
    row["cache_hits"], row["cache_misses"] = res["cache_hits"], res["cache_misses"]
    return row


def _stage_table(rows):
    cols = [("run", "run", "")]
    for name, _ in STAGES:
        cols += [(f"{name}_wall_s", f"{name} wall s", ".2f"), (f"{name}_cpu_s", f"{name} CPU s", ".2f")]
    cols += [
        ("total_wall_s", "whole child wall s", ".2f"),
        ("total_cpu_s", "CPU s", ".2f"),
        ("cache_misses", "compiled", "d"),
        ("cache_hits", "from cache", "d"),
    ]
    return _format_table(rows, cols)


def compare_trees(trees, rounds, size):
    """Cold then warm children of each source tree, alternating the trees' order; rows and medians."""
    import statistics

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for tree in trees if r % 2 == 0 else trees[::-1]:
                cache = tempfile.mkdtemp(dir=tmp)
                for kind in ("cold", "warm"):
                    row = _stage_row(f"{kind} {r + 1}: {tree}", _spawn(size, cache, tree=tree))
                    row["tree"], row["kind"] = tree, kind
                    rows.append(row)
                    print(f"{row['run']}: {row['total_cpu_s']:.1f} s CPU", file=sys.stderr)
    medians = []
    for tree in trees:
        for kind in ("cold", "warm"):
            mine = [r for r in rows if r["tree"] == tree and r["kind"] == kind]
            med = {k: statistics.median(r[k] for r in mine) for k, v in mine[0].items() if isinstance(v, (int, float))}
            med.update((k, round(med[k])) for k in ("cache_hits", "cache_misses"))  # counts: a median of two is a mean
            med["run"] = f"{kind}, median of {len(mine)}: {tree}"
            medians.append(med)
    return rows, medians


def _format_table(rows, columns):
    from pixscale.bench import format_table

    return format_table(rows, columns)


def _is_kernel(record):
    return record["module"].startswith("pixscale.kernels.")


def compile_tables(records, signatures):
    """Per-signature rows of pixscale's kernels and per-kernel totals, slowest first.

    numba's own jitted implementations (``np.empty``, ``min``, ``round``...) that
    the kernels use are compiled as dispatchers too; they are summed in one
    per-kernel row, "numba internals".
    """
    total = sum(r["self_s"] for r in records) or 1.0
    for r in records:
        r["share"] = r["self_s"] / total
    rows = sorted((r for r in records if _is_kernel(r)), key=lambda r: -r["self_s"])
    per = {name: {"kernel": name, "signatures": 0, "self_s": 0.0, "llvm_s": 0.0, "stages": []} for name in signatures}
    for r in records:
        name = r["kernel"] if _is_kernel(r) else "numba internals"
        k = per.setdefault(name, {"kernel": name, "signatures": 0, "self_s": 0.0, "llvm_s": 0.0, "stages": []})
        k["signatures"] += 1
        k["self_s"] += r["self_s"]
        k["llvm_s"] += r["llvm_s"]
        if r["stage"] not in k["stages"]:
            k["stages"].append(r["stage"])
    kernels = sorted(per.values(), key=lambda k: (-k["self_s"], k["kernel"]))
    for k in kernels:
        k["share"] = k["self_s"] / total
        k["stages"] = " ".join(k["stages"])
    return rows, kernels


def levers(records):
    """Where the compile time is spent, grouped by what could remove it (seconds)."""
    kern = [r for r in records if _is_kernel(r)]
    plain = {(r["kernel"], r["signature"]) for r in kern if "Literal[" not in r["signature"]}
    literal = [r for r in kern if "Literal[" in r["signature"]]
    return {
        "all_compiles_s": sum(r["self_s"] for r in records),
        "all_llvm_s": sum(r["llvm_s"] for r in records),
        "numba_internals_s": sum(r["self_s"] for r in records if not _is_kernel(r)),
        # a signature with a constant argument, compiled besides the kernel's general one
        "literal_signatures": len(literal),
        "literal_signatures_s": sum(r["self_s"] for r in literal),
        "literal_with_general_twin": sum(
            1
            for r in literal
            if any(k == r["kernel"] and "Literal[" not in s for k, s in plain)  # the kernel has a general one too
        ),
        # a kernel compiled because of the second dtype
        "uint16_stage_s": sum(r["self_s"] for r in records if r["stage"] == "uint16"),
        # 'A' (any layout) arrays: strided views compiled besides the contiguous ones
        "any_layout_signatures": sum(1 for r in kern if ", A)" in r["signature"]),
        "any_layout_signatures_s": sum(r["self_s"] for r in kern if ", A)" in r["signature"]),
        # machine code numba makes for a callee on its own, though it is inlined into its caller
        "nested_llvm_s": sum(r["llvm_s"] for r in records if r["depth"] > 0),
        "nested_self_s": sum(r["self_s"] for r in records if r["depth"] > 0),
        "top_level_s": sum(r["self_s"] for r in records if r["depth"] == 0),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="plain cold children (the spread); default 2")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels; default 256")
    parser.add_argument("--json", default="benchmarks/results/coldstart.json", help="where to write the results")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--instrument", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help="run the children on this checkout of pixscale (PYTHONPATH)")
    parser.add_argument("--trees", nargs="+", help="source trees to compare side by side (no compile table)")
    args = parser.parse_args(argv)
    if args.child:
        child(args.size, args.instrument)
        return
    if args.trees:
        rows, medians = compare_trees(args.trees, max(args.repeat, 1), args.size)
        print(f"\n### First calls, trees side by side (CPU s; load average {os.getloadavg()[0]:.2f} at the end)\n")
        print(_stage_table(rows + medians))
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from run import machine  # imports pixscale: not in a child, whose first import is timed

    results = {"machine": machine(), "load_average_before": list(os.getloadavg()), "size": args.size}
    stage_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            cache = tempfile.mkdtemp(dir=tmp)
            stage_rows.append(_stage_row(f"cold {i + 1}", _spawn(args.size, cache, tree=args.tree)))
            print(f"cold {i + 1}: {stage_rows[-1]['total_wall_s']:.1f} s", file=sys.stderr)
        cache = tempfile.mkdtemp(dir=tmp)
        inst = _spawn(args.size, cache, instrument=True, tree=args.tree)
        stage_rows.append(_stage_row("cold, instrumented", inst))
        print(f"cold, instrumented: {inst['total_wall_s']:.1f} s", file=sys.stderr)
        stage_rows.append(_stage_row("warm (same caches)", _spawn(args.size, cache, tree=args.tree)))
    results["load_average_after"] = list(os.getloadavg())
    results["stages"] = stage_rows
    results["import_numba_s"] = inst.get("import_numba_s")
    rows, kernels = compile_tables(inst["compiles"], inst["signatures"])
    results["compiles"], results["kernels"] = rows, kernels
    results["levers"] = lv = levers(inst["compiles"])

    print("\n### First calls in a new process (s)\n")
    for name, what in STAGES:
        print(f"- `{name}`: {what}")
    print()
    print(_stage_table(stage_rows))
    print(
        f"\nThe instrumented child's stages took {sum(s['wall_s'] for s in inst['stages']):.2f} s; "
        f"{len(inst['compiles'])} compiles took {lv['all_compiles_s']:.2f} s ({lv['all_llvm_s']:.2f} s of it in LLVM); "
        f"numba's import before them {inst['import_numba_s']:.2f} s.\n"
    )
    print(f"- kernels called from Python: {lv['top_level_s']:.2f} s; callees: {lv['nested_self_s']:.2f} s, of which")
    print(f"  {lv['nested_llvm_s']:.2f} s in LLVM for the callees' own machine code (callers link their IR anew)")
    print(
        f"- {lv['literal_signatures']} kernel signatures with a constant (Literal) argument: "
        f"{lv['literal_signatures_s']:.2f} s ({lv['literal_with_general_twin']} of them besides a general signature)"
    )
    print(
        f"- {lv['any_layout_signatures']} signatures on strided ('A' layout) arrays: "
        f"{lv['any_layout_signatures_s']:.2f} s"
    )
    print(f"- the second dtype (uint16 stage): {lv['uint16_stage_s']:.2f} s")
    print(f"- numba's own jitted helpers (np.empty, min, round...): {lv['numba_internals_s']:.2f} s")
    print("\n### Per kernel (all stages, slowest first)\n")
    print(
        _format_table(
            kernels,
            [
                ("kernel", "kernel", ""),
                ("signatures", "signatures", "d"),
                ("self_s", "compile s", ".2f"),
                ("llvm_s", "of it LLVM s", ".2f"),
                ("share", "share", ".0%"),
                ("stages", "stages", ""),
            ],
        )
    )
    print("\n### Per signature (slowest first)\n")
    rows = [dict(r, signature=f"`{r['signature']}`") for r in rows]  # Markdown would read [int](1) as a link
    print(
        _format_table(
            rows,
            [
                ("kernel", "kernel", ""),
                ("stage", "stage", ""),
                ("self_s", "compile s", ".2f"),
                ("llvm_s", "of it LLVM s", ".2f"),
                ("share", "share", ".0%"),
                ("signature", "signature", ""),
            ],
        )
    )
    os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
