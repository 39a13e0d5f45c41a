"""The report's figures: their cost at 60, 600 and 1,000 views, old tree against new, side by side.

Each measurement is a fresh interpreter (matplotlib's import is part of the
cost a run pays) that reads a finished run's ``report.json`` back into
records and draws the figures with :func:`pixscale.report.figures.draw`,
the contact sheet reading its views from the run's input and output folders.
The progress callback stamps the time each figure is done, so the table has
the import and every figure apart (where the contact sheet is made in a
thread beside the plots, its row is only the wait for it after them).
``draw`` is wall time; ``draw, CPU`` the CPU of every thread; ``draw, main
thread CPU`` the main thread's, the wall time on a machine with a core free
for the sheet.  Trees alternate in every round (the machine may be shared);
the medians are printed.

Make the runs first (``pixscale demo`` writes a GS-LRM dataset of 6 views a
sample and normalises it)::

    for n in 10 100 167; do pixscale demo --samples $n --out /tmp/figs-data/d$n --quiet; done
    python benchmarks/figures.py --tree old=/path/to/main --tree new=. \\
        /tmp/figs-data/d10 /tmp/figs-data/d100 /tmp/figs-data/d167
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

_CHILD = r"""
import json, pathlib, sys, time
t0 = time.perf_counter()
from pixscale.pipeline.records import ViewRecord
from pixscale.report import summary as report
run = pathlib.Path(sys.argv[1])
data = json.loads((run / "output" / "pixscale-report" / "report.json").read_text())
rows = [ViewRecord.from_row(r) for r in data["views"]]
summary = data["summary"]
sources = {r.view: (run / "input" / r.view, run / "output" / r.view) for r in rows if r.ok}
from pixscale.report.figures import draw
stamps = []
cpu = []
class Bar:
    def update(self, n):
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())
    def close(self):
        pass
def progress(total, unit):
    stamps.append(time.perf_counter())
    cpu.append(time.process_time())
    return Bar()
t1, c1, m1 = time.perf_counter(), time.process_time(), time.thread_time()
figures, missing = draw(summary, rows, sources, progress=progress)
t2, c2, m2 = time.perf_counter(), time.process_time(), time.thread_time()
assert not missing, missing
names = list(figures)
steps = {"import matplotlib": stamps[0] - t1}
steps.update({n: b - a for n, a, b in zip(names, stamps, stamps[1:])})
steps["draw"] = t2 - t1
steps["draw, CPU"] = c2 - c1
steps["draw, main thread CPU"] = m2 - m1
print(json.dumps({"views": len(rows), "steps": steps, "bytes": sum(map(len, figures.values()))}))
"""


def _once(tree, run):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), MPLBACKEND="")
    env.pop("MPLBACKEND")
    # cwd: `python -c` puts the working folder first on sys.path, ahead of PYTHONPATH
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, os.path.abspath(run)], env=env, cwd=tree, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="folders with input/ and output/ of a finished `pixscale demo`")
    p.add_argument("--tree", action="append", required=True, help="NAME=PATH of a pixscale checkout")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    trees = dict(t.split("=", 1) for t in args.tree)
    for run in args.runs:
        got: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():  # alternate: old, new, old, new, ...
                got[name].append(_once(tree, run))
        views = got[next(iter(trees))][0]["views"]
        steps = list(dict.fromkeys(k for name in trees for k in got[name][0]["steps"]))
        print(f"\n{views} views ({run}), median of {args.rounds} rounds, seconds")
        print(f"{'step':<22}" + "".join(f"{name:>10}" for name in trees))
        for step in steps:
            cells = []
            for name in trees:
                values = [g["steps"][step] for g in got[name] if step in g["steps"]]
                cells.append(f"{statistics.median(values):10.3f}" if values else f"{'-':>10}")
            print(f"{step:<22}" + "".join(cells))
    print(f"\nload average {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
