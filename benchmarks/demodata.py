"""The demo's data: ``pixscale.synth.write_dataset`` of this tree beside another.

    python benchmarks/demodata.py --base DIR [--rounds 3] [--samples 16]

Writes the demo's dataset (``--samples`` samples x 6 views, 512 x 512, seed 0, layout
"gslrm", as ``pixscale demo``) into a temporary folder, once per round for each of: the
tree at ``--base`` (a checkout of another version, e.g. main), this tree with
``threads=1``, and this tree with its default threads; in alternation, a fresh process
each, medians kept. The import is timed apart. Then checks that both trees wrote the same
pixels and cameras (decoded PNGs, JSON bytes).
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parents[1]

CHILD = """
import hashlib, pathlib, sys, tempfile, time
t0 = time.perf_counter()
import pixscale.synth as synth
t1 = time.perf_counter()
assert synth.__file__.startswith(sys.argv[1]), synth.__file__
kwargs = eval(sys.argv[3])
with tempfile.TemporaryDirectory() as tmp:
    synth.write_dataset(tmp, n_samples=int(sys.argv[2]), n_views=6, size=512, seed=0, **kwargs)
    t2 = time.perf_counter()
    digest = hashlib.sha256()
    if sys.argv[4] == "1":
        import imageio.v3 as iio
        for p in sorted(pathlib.Path(tmp).rglob("*.png")) + sorted(pathlib.Path(tmp).rglob("*.json")):
            digest.update(p.relative_to(tmp).as_posix().encode())
            digest.update(iio.imread(p).tobytes() if p.suffix == ".png" else p.read_bytes())
    nbytes = sum(p.stat().st_size for p in pathlib.Path(tmp).rglob("*.png"))
print(t1 - t0, t2 - t1, digest.hexdigest()[:16], nbytes)
"""


def _run(tree, samples, kwargs, check):
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, "-c", CHILD, str(tree), str(samples), kwargs, "1" if check else "0"]
    out = subprocess.run(cmd, env=env, cwd="/", capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1]), out[2], int(out[3])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="a checkout of the version to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    base = pathlib.Path(args.base).resolve()
    runs = {"base": (base, "{}"), "this, threads=1": (HERE, "{'threads': 1}"), "this": (HERE, "{}")}
    times = {name: [] for name in runs}
    digests, sizes = {}, {}
    for r in range(args.rounds):
        for name, (tree, kwargs) in runs.items():
            imported, wrote, digest, nbytes = _run(tree, args.samples, kwargs, check=r == 0)
            times[name].append(wrote)
            if r == 0:
                digests[name], sizes[name] = digest, nbytes
            print(f"round {r} {name:16s} {wrote:6.2f} s (import {imported:.2f} s)", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores")
    print("| tree | write_dataset, s (median) | min-max | PNG bytes |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f}-{max(ts):.2f} | {sizes[name] / 1e6:.1f} MB |")
    same = len(set(digests.values())) == 1
    print("same pixels and cameras:", same, digests)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
