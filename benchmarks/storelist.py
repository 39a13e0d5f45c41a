"""The listing of an object store's prefix: streamed, never held whole (issue #23 item 4's listing).

What it measures: tracemalloc's peak of what is allocated while every key
under a prefix is listed and counted, three ways:

* ``find``: fsspec's ``fs.find(prefix, detail=True)``, the whole listing as
  one dict (what a run would hold if it listed first);
* ``walk``: :meth:`pixscale.pipeline.store.Store.walk`, one folder (or, on
  S3, one page of 1,000 keys) at a time;
* ``discover``: :func:`pixscale.pipeline.listing.discover_store` of the same
  prefix, laid out as MVDiffusion samples (``sample_NNNNN/cam_NNN.png``): the
  dataset it returns (a view object per key) and the listing's stream.

The prefix is on ``memory://`` (its objects live in this process, before the
measurement starts); ``--s3`` lists the same keys from moto's S3 server on
127.0.0.1 (slower to fill: use fewer keys), through s3fs's paged listing.

Usage::

    python benchmarks/storelist.py [--keys 200000] [--per-folder 12] [--s3]
"""

import argparse
import gc
import os
import time
import tracemalloc


def _peak(fn):
    gc.collect()
    tracemalloc.start()
    t = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak / 2**20, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200_000)
    parser.add_argument("--per-folder", type=int, default=12)
    parser.add_argument("--s3", action="store_true", help="list from moto's S3 server instead of memory://")
    args = parser.parse_args()

    from pixscale.pipeline.listing import discover_store
    from pixscale.pipeline.store import Store

    options, server = {}, None
    names = [f"sample_{i // args.per_folder:05d}/cam_{i % args.per_folder:03d}.png" for i in range(args.keys)]
    if args.s3:
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        options = {"endpoint_url": f"http://{host}:{port}"}
        import s3fs

        fs = s3fs.S3FileSystem(**options)
        fs.mkdir("bench")
        fs.pipe({f"bench/in/{n}": b"x" for n in names})
        url, prefix = "s3://bench/in", "bench/in"
    else:
        import fsspec

        fs = fsspec.filesystem("memory")
        for n in names:
            fs.pipe_file(f"/bench/in/{n}", b"x")
        url, prefix = "memory://bench/in", "/bench/in"
    store = Store.open(url, options, must_exist=True)
    rows = []
    found, mib, wall = _peak(lambda: len(fs.find(prefix, detail=True)))
    rows.append(("find (whole listing)", found, mib, wall))
    if hasattr(fs, "invalidate_cache"):
        fs.invalidate_cache()
    walked, mib, wall = _peak(lambda: sum(1 for _ in store.walk()))
    rows.append(("Store.walk (streamed)", walked, mib, wall))
    dataset, mib, wall = _peak(lambda: discover_store(store, layout="mvdiffusion"))
    rows.append(("discover_store (dataset)", dataset.n_views, mib, wall))
    print(f"{args.keys:,} keys, {args.per_folder} a folder, {'S3 (moto)' if args.s3 else 'memory://'}")
    print(f"{'what':28s} {'keys':>9s} {'peak MiB':>9s} {'bytes/key':>10s} {'s':>7s}")
    for what, n, mib, wall in rows:
        print(f"{what:28s} {n:9,d} {mib:9.1f} {mib * 2**20 / args.keys:10.0f} {wall:7.2f}")
    if server is not None:
        server.stop()


if __name__ == "__main__":
    main()
