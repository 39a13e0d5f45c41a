"""The dataset job: normalize every view of a dataset, keep its cameras consistent, report.

A run reads each sample, plans its transforms (:func:`pixscale.plan_group`
or one :func:`pixscale.plan` per view), warps and writes every view, writes
the updated cameras, and records the sample in a manifest.  Samples run
concurrently on threads (the kernels release the GIL; decoding and encoding
overlap).  Files are written atomically; a bad view is reported, never fatal.
"""

import copy
import re
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import __version__
from ._measure import measure
from ._plan import CENTERS, plan_group
from ._validate import EmptyMaskError
from ._warp import warp
from .dataset import CAMERAS, discover, rewrite_list_file
from .io import ViewError, atomic_write_json, atomic_write_text, read_view, write_png

MANIFEST = "pixscale-manifest.jsonl"
SCALE_MODES = ("per-view", "per-sample")


@dataclass(frozen=True)
class RunOptions:
    """Everything that decides the bytes a run writes (recorded in the manifest and cameras)."""

    target: float = 0.3
    threshold: float = 10.0
    center: str = "centroid"
    scale: str = "per-view"
    output_size: tuple | None = None
    margin: float = 0.0
    fit: bool = True
    exact: bool = True
    premultiplied: bool = True
    background: tuple | None = None  # colour on the 0-255 scale
    keep_cameras: bool = False
    pixel_center: float = 0.5
    png_level: int = 6

    def __post_init__(self):
        if self.scale not in SCALE_MODES:
            raise ValueError(f"scale must be one of {SCALE_MODES}; got {self.scale!r}")
        if self.center not in CENTERS:
            raise ValueError(f"center must be one of {CENTERS}; got {self.center!r}")
        if not 0 <= self.png_level <= 9:
            raise ValueError(f"png_level must be 0 (fastest) to 9 (smallest); got {self.png_level}")

    def params(self):
        """The options as JSON-ready values."""
        d = asdict(self)
        for key in ("output_size", "background"):
            d[key] = None if d[key] is None else list(d[key])
        return d


def _fail(sample, rel, error):
    return {"sample": sample, "view": rel, "status": "failed", "error": error,
            "before": None, "after": None, "scale": None, "limited": None}


def _reason(exc):
    """The reason of an error without the file name (the row names the view)."""
    return getattr(exc, "reason", str(exc))


def _background_for(image, background):
    if background is None:
        return None
    colour = np.asarray(background, dtype=np.float64) * (257 if image.dtype == np.uint16 else 1)
    return [float(colour.mean())] if image.shape[2] == 2 else [float(c) for c in colour]


def _plan_views(images, opts):
    kw = dict(target=opts.target, threshold=opts.threshold, center=opts.center, output_shape=opts.output_size,
              fit=opts.fit, margin=opts.margin, exact=opts.exact)
    if opts.scale == "per-sample":
        return plan_group(images, **kw)
    return [plan_group([img], **kw)[0] for img in images]


def _new_intrinsics(frame, t, pixel_center):
    try:
        K = np.array([[frame["fx"], 0.0, frame["cx"]], [0.0, frame["fy"], frame["cy"]], [0.0, 0.0, 1.0]], float)
    except KeyError as exc:
        raise ViewError(f"its camera frame has no {exc.args[0]!r}") from None
    K2 = t.intrinsics(K, pixel_center=pixel_center)
    return {"fx": float(K2[0, 0]), "fy": float(K2[1, 1]), "cx": float(K2[0, 2]), "cy": float(K2[1, 2]),
            "w": int(t.output_shape[1]), "h": int(t.output_shape[0])}


def _read_and_measure(view, threshold):
    """Read one view and measure it; ViewError / EmptyMaskError say why it cannot be used."""
    if view.path is None:
        raise ViewError(f"file_path {view.rel!r} points outside its sample folder; it was not read")
    image = read_view(view.path)
    m = measure(image, threshold=threshold)
    if m.count == 0:
        raise EmptyMaskError(f"empty mask: no pixel has alpha > {threshold:g}")
    return image, m


def process_sample(sample, out_root, opts):
    """Normalize and write one sample; return its rows (one per view, failures included)."""
    rows, good = [], []
    if sample.error:
        return [_fail(sample.name, CAMERAS, sample.error)]
    out_dir = Path(out_root) / sample.rel_dir
    for view in sample.views:
        try:
            image, before = _read_and_measure(view, opts.threshold)
            good.append((view, image, before))
        except (ViewError, EmptyMaskError) as exc:
            rows.append(_fail(sample.name, view.rel, _reason(exc)))
    try:
        transforms = _plan_views([img for _, img, _ in good], opts) if good else []
    except ValueError as exc:  # e.g. a margin too large for the canvas: every view fails alike
        return rows + [_fail(sample.name, v.rel, str(exc)) for v, _, _ in good]
    frames = {}
    for (view, image, before), t in zip(good, transforms):
        try:
            if sample.cameras is not None and not opts.keep_cameras:
                frames[view.frame] = _new_intrinsics(sample.cameras["frames"][view.frame], t, opts.pixel_center)
            out = warp(image, t, premultiplied=opts.premultiplied, background=_background_for(image, opts.background))
            if opts.background is None and not opts.premultiplied:
                # Clean colour under alpha 0: straight mode leaves some (premultiplied writes zeros).
                out[..., :-1] *= (out[..., -1:] != 0)
            write_png(out_dir / view.rel, out, compress_level=opts.png_level)
        except (ViewError, OSError, ValueError) as exc:
            rows.append(_fail(sample.name, view.rel, str(exc)))
            frames.pop(view.frame, None)
            continue
        frames.setdefault(view.frame, None)
        rows.append({"sample": sample.name, "view": view.rel, "status": "ok", "error": None,
                     "before": before.to_dict(), "after": measure(out, threshold=opts.threshold).to_dict(),
                     "scale": t.scale, "limited": t.limited})
    if sample.cameras is not None:
        _write_cameras(sample, out_dir, frames, rows, opts)
    order = {v.rel: i for i, v in enumerate(sample.views)}
    return sorted(rows, key=lambda r: order.get(r["view"], -1))


def _write_cameras(sample, out_dir, frames, rows, opts):
    cameras = copy.deepcopy(sample.cameras)
    kept = []
    for i, frame in enumerate(cameras["frames"]):
        if i in frames:
            if frames[i] is not None:
                frame.update(frames[i])
            kept.append(frame)
    cameras["frames"] = kept
    cameras["pixscale"] = {
        "version": __version__,
        "parameters": opts.params(),
        "views": [{"file_path": r["view"], "status": r["status"], "error": r["error"], "scale": r["scale"],
                   "size_ratio_before": r["before"] and r["before"]["size_ratio"],
                   "size_ratio_after": r["after"] and r["after"]["size_ratio"], "limited": r["limited"]}
                  for r in rows],
    }
    atomic_write_json(out_dir / CAMERAS, cameras)


def check_folders(in_dir, out_dir):
    """Refuse an output folder that is, or lies inside, the input tree."""
    # For a glob, the folder part before the first wildcard is the input tree.
    src = Path(re.split(r"[*?\[]", str(in_dir))[0] or ".").resolve()
    dst = Path(out_dir).resolve()
    if dst == src or src in dst.parents:
        raise ValueError(f"OUT_DIR {out_dir} is inside IN_DIR {in_dir}; choose an output folder outside the input.")


def _read_manifest(path, params):
    done = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    header = json.loads(lines[0]) if lines else {}
    if header.get("parameters") != params:
        raise ValueError(
            f"{path.parent} was written with other options ({header.get('parameters')}); resume with the same "
            "options, or choose a new OUT_DIR."
        )
    for line in lines[1:]:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut by an interruption: that sample is redone
            continue
        done[entry["sample"]] = entry["rows"]
    return done


def _open_manifest(out_dir, params, resume):
    path = out_dir / MANIFEST
    if path.exists() and not resume:
        raise ValueError(f"{out_dir} holds an earlier pixscale run; pass --resume to finish it, or choose a new OUT_DIR.")
    if not path.exists() and out_dir.exists() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir} is not empty and holds no pixscale run; choose an empty or new OUT_DIR.")
    done = _read_manifest(path, params)
    for stale in out_dir.rglob(".*.part"):  # temporary files of an interrupted run
        stale.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        atomic_write_text(path, json.dumps({"pixscale": __version__, "parameters": params}) + "\n")
    return path, done


def run(in_dir, out_dir, options=None, *, layout="auto", jobs=None, resume=False, quiet=False):
    """Normalize a whole dataset from ``in_dir`` into ``out_dir``.

    Parameters
    ----------
    in_dir : path or str
        Dataset root (GS-LRM, MVDiffusion or flat layout), or a glob of images.
    out_dir : path or str
        Output root; created if needed; must not lie inside ``in_dir``.
    options : RunOptions, optional
    layout : {"auto", "gslrm", "mvdiffusion", "flat"}
    jobs : int, optional
        Worker threads; default all cores.
    resume : bool
        Continue an interrupted run in ``out_dir``, skipping completed samples.
    quiet : bool
        No progress bar.

    Returns
    -------
    (rows, dataset)
        One row per view (see :mod:`pixscale.report`), in dataset order.
    """
    from tqdm import tqdm

    opts = options or RunOptions()
    check_folders(in_dir, out_dir)
    dataset = discover(in_dir, layout=layout)
    out_dir = Path(out_dir)
    manifest, done = _open_manifest(out_dir, opts.params(), resume)
    todo = [s for s in dataset.samples if s.name not in done]
    results = dict(done)
    jobs = jobs or os.cpu_count() or 1
    with tqdm(total=dataset.n_views, unit="view", disable=quiet, file=sys.stderr, dynamic_ncols=True) as bar:
        bar.update(sum(len(s.views) for s in dataset.samples if s.name in done))
        with ThreadPoolExecutor(max_workers=jobs) as pool, open(manifest, "a", encoding="utf-8") as log:
            futures = {pool.submit(_safe_process, s, out_dir, opts): s for s in todo}
            for fut in as_completed(futures):
                sample = futures[fut]
                results[sample.name] = fut.result()
                log.write(json.dumps({"sample": sample.name, "rows": results[sample.name]}) + "\n")
                log.flush()
                os.fsync(log.fileno())
                bar.update(len(sample.views))
    for path in dataset.list_files:
        atomic_write_text(out_dir / path.name,
                          rewrite_list_file(path.read_text(encoding="utf-8"), dataset.root, out_dir))
    rows = [row for s in dataset.samples for row in results[s.name]]
    return rows, dataset


def _safe_process(sample, out_dir, opts):
    try:
        return process_sample(sample, out_dir, opts)
    except Exception as exc:  # never let one sample stop the run
        return [_fail(sample.name, v.rel, f"unexpected {type(exc).__name__}: {exc}") for v in sample.views] or \
            [_fail(sample.name, "", f"unexpected {type(exc).__name__}: {exc}")]


def measure_dataset(in_dir, *, threshold=10.0, layout="auto", jobs=None):
    """Measure every view of a dataset without writing anything; return (rows, dataset)."""
    dataset = discover(in_dir, layout=layout)

    def one(sample):
        if sample.error:
            return [_fail(sample.name, CAMERAS, sample.error)]
        rows = []
        for view in sample.views:
            try:
                m = _read_and_measure(view, threshold)[1]
                rows.append({"sample": sample.name, "view": view.rel, "status": "ok", "error": None,
                             "before": m.to_dict(), "after": None, "scale": None, "limited": None})
            except (ViewError, EmptyMaskError) as exc:
                rows.append(_fail(sample.name, view.rel, _reason(exc)))
        return rows

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        rows = [row for sample_rows in pool.map(one, dataset.samples) for row in sample_rows]
    return rows, dataset
