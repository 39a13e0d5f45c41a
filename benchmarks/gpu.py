"""On the GPU: views per second of ``normalize_batch`` on batches resident on the device, against the CPU.

    python benchmarks/gpu.py [--sizes 512 1024] [--views 600] [--rounds 5] [--filter bilinear]
                             [--json benchmarks/results/gpu.json]

Needs numba-cuda (``pip install -e ".[cuda]"``) and a CUDA GPU.  Without one
it says so in one line and exits 0, except under numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``), where it runs a smoke size (2 views of 32²,
one round) so the script itself is checked without a GPU; its figures mean
nothing.  On a GPU machine, everything at once (a venv, this script, the
16-core CPU tables): ``bash benchmarks/device_gpu.sh``.

For each size, a batch of ``--views`` RGBA uint8 views (N, H, W, 4), tiled
from 24 demo views (``pixscale.synth.mouse_view``), is copied to the device
once; then, ``--rounds`` times in alternation, the median kept:

- ``pixscale.normalize_batch`` on the resident batch, exact mode and closed
  form (``exact=False``), as a numba device array and, where torch is
  importable, as a torch CUDA tensor (the result is the caller's type, on the
  device);
- the CPU path: ``normalize_batch`` of the same batch as a NumPy array on all
  cores (``threads=os.cpu_count()``);
- a ceiling, where torch is importable: the same closed form written with torch
  ops (measure by ``sum`` over the alpha mask, centroid, scale, then
  ``affine_grid`` + ``grid_sample``, bilinear, zeros outside, back to uint8
  N×H×W×4): what a hand-written GPU pipeline costs, without exact mode, the
  bbox fit or pixscale's rounding;
- the copies a CPU path on GPU-resident data would add: the batch host to
  device (``cuda.to_device``) and back (``copy_to_host``), from pageable NumPy
  memory and from page-locked (pinned) memory; and the GPU path for a batch
  in host memory, the copies included.

GPU timings are wall clock between two full device synchronizations (the
GPU path may plan on the host between launches, so CUDA events on one stream
would miss that); every path is called twice before the clock (kernel
compilation, allocator warm-up).  It also prints the largest difference in
LSB between the GPU's and the CPU's output over the first 8 views (the
agreement the tests check, seen here on real data).  Prints a Markdown table
per size and writes the figures as JSON, each as soon as that size is measured.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
GOALS = (
    "Goals (issue #22, H200): 600 views of 512² in exact mode in <= 20 ms (>= 15x the 16-core CPU), "
    "closed form <= 10 ms"
)


def _gpu():
    """numba.cuda, or the one-line reason there is no GPU to measure on."""
    try:
        from numba import cuda
    except ImportError as exc:
        return None, f"numba-cuda is not installed ({exc}): pip install -e '.[cuda]'"
    if SIM:
        return cuda, None
    try:
        if not cuda.is_available():
            return None, "numba-cuda finds no CUDA GPU (driver or device missing)"
    except Exception as exc:  # a broken driver or toolkit install: say what, do not fail
        return None, f"numba-cuda cannot reach a GPU: {type(exc).__name__}: {exc}"
    return cuda, None


def _torch():
    """torch with CUDA, or None (the torch rows are skipped)."""
    if SIM:
        return None
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


def _batch(size, n_views):
    import numpy as np

    from pixscale import synth

    rng = np.random.default_rng(0)
    distinct = np.stack([synth.mouse_view(rng, size=size) for _ in range(min(24, n_views))])
    return np.ascontiguousarray(distinct[np.arange(n_views) % len(distinct)])


def _timed(fn, sync, rounds):
    """Median wall time of ``fn()`` between device synchronizations, after two untimed calls; and its last result."""
    for _ in range(2):
        result = fn()
    sync()
    seconds = []
    for _ in range(rounds):
        del result
        sync()
        t0 = time.perf_counter()
        result = fn()
        sync()
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds), result


def _pinned_copies(cuda, host, dev, sync, rounds):
    """(path, seconds) of the batch's copies through page-locked host memory (what a loader can pin), both ways."""
    pinned = cuda.pinned_array(host.shape, host.dtype)
    pinned[...] = host
    t_in, _ = _timed(lambda: cuda.to_device(pinned), sync, rounds)
    t_out, _ = _timed(lambda: dev.copy_to_host(pinned), sync, rounds)
    return [("copy host -> device (pinned)", t_in), ("copy device -> host (pinned)", t_out)]


def grid_sample_ceiling(torch, batch, target=0.3, threshold=10):
    """Closed-form normalization with torch ops: measure, scale about the centroid, bilinear resample, uint8."""
    import torch.nn.functional as F

    n, h, w, _ = batch.shape
    alpha = batch[..., 3] > threshold
    count = alpha.sum(dim=(1, 2)).clamp(min=1).to(torch.float32)
    ys = torch.arange(h, device=batch.device, dtype=torch.float32) + 0.5
    xs = torch.arange(w, device=batch.device, dtype=torch.float32) + 0.5
    cx = (alpha.sum(dim=1).to(torch.float32) @ xs) / count  # continuous coordinates, pixel centres at +0.5
    cy = (alpha.sum(dim=2).to(torch.float32) @ ys) / count
    scale = target / torch.sqrt(count / (h * w))
    theta = torch.zeros(n, 2, 3, device=batch.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale  # output normalized coordinates -> input ones, centroid to centre
    theta[:, 0, 2] = 2 * cx / w - 1
    theta[:, 1, 2] = 2 * cy / h - 1
    src = batch.permute(0, 3, 1, 2).to(torch.float32)
    grid = F.affine_grid(theta, list(src.shape), align_corners=False)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _lsb(a, b):
    import numpy as np

    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


def measure(size, n_views, rounds, cuda, torch, cpu_threads, filter="bilinear"):
    """Every row for one size: a list of dicts."""
    import numpy as np

    import pixscale

    host = _batch(size, n_views)
    sync = cuda.synchronize
    rows = []

    def row(path, mode, seconds, **extra):
        rows.append(
            {"size": size, "views": n_views, "path": path, "mode": mode, "ms": 1e3 * seconds, **extra}
            | {"views_per_s": n_views / seconds if seconds else float("inf")}
        )

    t_in, dev = _timed(lambda: cuda.to_device(host), sync, rounds)
    row("copy host -> device (pageable)", "", t_in, gb_per_s=host.nbytes / t_in / 1e9)
    t_out, _ = _timed(lambda: dev.copy_to_host(), sync, rounds)
    row("copy device -> host (pageable)", "", t_out, gb_per_s=host.nbytes / t_out / 1e9)
    for path, seconds in _pinned_copies(cuda, host, dev, sync, rounds):
        row(path, "", seconds, gb_per_s=host.nbytes / seconds / 1e9)

    tdev = torch.as_tensor(host, device="cuda") if torch is not None else None
    cpu_out = {}
    for exact in (True, False):
        mode = "exact" if exact else "closed form"
        t, cpu_out[exact] = _timed(
            lambda: pixscale.normalize_batch(host, exact=exact, threads=cpu_threads, filter=filter), sync, rounds
        )
        row(f"CPU normalize_batch, {cpu_threads} threads", mode, t)
        inputs = [("numba device array", dev, lambda out: out.copy_to_host())]
        if tdev is not None:
            inputs.append(("torch CUDA tensor", tdev, lambda out: out.cpu().numpy()))
        for kind, arr, to_host in inputs:
            try:
                t, out = _timed(lambda a=arr: pixscale.normalize_batch(a, exact=exact, filter=filter), sync, rounds)
                if type(out) is not type(arr):
                    raise TypeError(f"gave a {type(out).__name__}, not the input's {type(arr).__name__}: no GPU path")
            except Exception as exc:  # no GPU path for this input (yet): a row that says why, not a crash
                error = f"{type(exc).__name__}: {exc}"
                rows.append(
                    {"size": size, "views": n_views, "path": f"GPU normalize_batch, {kind}", "mode": mode}
                    | {"error": error}
                )
                continue
            k = min(8, n_views)
            row(
                f"GPU normalize_batch, {kind}",
                mode,
                t,
                max_lsb_vs_cpu=_lsb(np.asarray(to_host(out))[:k], cpu_out[exact][:k]),
            )
            del out
            if kind == "numba device array":  # the whole trip for data in host memory: copy in, normalize, copy out
                t, _ = _timed(
                    lambda: pixscale.normalize_batch(cuda.to_device(host), exact=exact, filter=filter).copy_to_host(),
                    sync,
                    rounds,
                )
                row("GPU from host memory: copy in + normalize_batch + copy out (pageable)", mode, t)
    if tdev is not None:
        path = "torch measure + affine_grid + grid_sample (ceiling)"
        try:
            t, _ = _timed(lambda: grid_sample_ceiling(torch, tdev), torch.cuda.synchronize, rounds)
        except Exception as exc:  # the ceiling is a comparison: its failure must not lose the rows above
            rows.append({"size": size, "views": n_views, "path": path, "mode": "closed form"} | {"error": repr(exc)})
        else:
            row(path, "closed form", t)
    return rows


def table(rows):
    """The Markdown table: per size, each path's ms per batch, ms per view, views/s and speed against the CPU."""
    cpu = {(r["size"], r["mode"]): r["ms"] for r in rows if r["path"].startswith("CPU") and "ms" in r}
    lines = [
        "| size | path | mode | ms / batch | ms / view | views/s | vs CPU | max LSB vs CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['size']}² | {r['path']} | {r['mode']} | not run: {r['error'][:120]} | | | | |")
            continue
        base = cpu.get((r["size"], r["mode"]))
        vs = f"{base / r['ms']:.1f}x" if base and r["mode"] and not r["path"].startswith("CPU") else ""
        extra = f"{r['gb_per_s']:.1f} GB/s" if "gb_per_s" in r else str(r.get("max_lsb_vs_cpu", ""))
        lines.append(
            f"| {r['size']}² | {r['path']} | {r['mode']} | {r['ms']:.2f} | {r['ms'] / r['views']:.4f} | "
            f"{r['views_per_s']:.0f} | {vs} | {extra} |"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[512, 1024], help="view sides; default 512 1024")
    p.add_argument("--views", type=int, default=600, help="views per batch; default 600")
    p.add_argument("--rounds", type=int, default=5, help="timed calls of each path (median); default 5")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="CPU path's threads; default all cores")
    p.add_argument("--filter", default="bilinear", help="pixscale's filter (CPU and GPU alike); default bilinear")
    p.add_argument("--json", default="benchmarks/results/gpu.json", help="where to write the figures")
    args = p.parse_args(argv)
    cuda, why = _gpu()
    if cuda is None:
        print(f"benchmarks/gpu.py: no GPU to measure on ({why}); nothing measured.")
        return 0
    if SIM:
        args.sizes, args.views, args.rounds = [32], 2, 1
        print(
            "NUMBA_ENABLE_CUDASIM=1: numba's CUDA simulator, a smoke size (2 views of 32², one round); "
            "figures mean nothing"
        )
    torch = _torch()
    device = "CUDA simulator" if SIM else cuda.get_current_device().name
    device = device.decode() if isinstance(device, bytes) else device
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    info = {
        "device": device,
        "cpu": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}",
        "python": platform.python_version(),
        "torch": getattr(torch, "__version__", None),
        "filter": args.filter,
        "load_average_start": load,
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(f"device: {device}; CPU: {info['cpu']}; python {info['python']}; torch {info['torch']}; load {load:.2f}")
    out = pathlib.Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for (
        size
    ) in args.sizes:  # each size's table and the JSON so far as soon as it is measured (a run cut short keeps them)
        new = measure(size, args.views, args.rounds, cuda, torch, args.threads, args.filter)
        rows += new
        print(
            f"\n{args.views} views of {size}² RGBA uint8 on the device, filter {args.filter!r}; "
            f"median of {args.rounds} calls\n"
        )
        print(table(new), flush=True)
        out.write_text(json.dumps({"info": info, "rows": rows}, indent=1))
    print(f"\n{GOALS}")
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
