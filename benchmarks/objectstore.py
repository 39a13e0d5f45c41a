"""A run on an S3 bucket (moto's server on 127.0.0.1) beside the same run on local folders.

    python benchmarks/objectstore.py [--rounds 3] [--samples 8] [--views 6] [--size 256] [--jobs 1]

Writes a seeded synthetic dataset (``pixscale.synth``, GS-LRM layout), copies it to a bucket of a moto S3
server started here (needs ``pip install -e ".[test]"``: moto[server] and s3fs), then runs
``pixscale run IN OUT --no-plots --quiet`` on local folders and ``pixscale run s3://b/in s3://b/outN`` in
alternation, a fresh process each, and prints the median wall times, their ratio, views/s and what the
store adds (seconds, and milliseconds a view: run two sizes to tell a fixed cost from a per-view one).
The first local run compiles the kernels into the per-user cache and is not counted.  Each round checks that the S3
run wrote the bytes of the local run (images and cameras).

moto on localhost is not S3: no network lies between, and the bucket is held in memory by a Python server
running in this benchmark's process, so the figure is the cost of going through fsspec/s3fs and the S3
protocol (a request per object read or written, the manifest's chunks, the lock, the report's upload), not
a network's or a real store's.
"""

import argparse
import hashlib
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = pathlib.Path(__file__).resolve().parents[1]


def _run(args, env):
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pixscale", "run", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - t


def _digests_local(root):
    root = pathlib.Path(root)
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".png", ".json") and "pixscale-report" not in p.parts
    }


def _digests_s3(client, bucket, prefix):
    out = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for o in page.get("Contents", []):
            rel = o["Key"][len(prefix) + 1 :]
            if rel.endswith((".png", ".json")) and not rel.startswith("pixscale-report/"):
                out[rel] = hashlib.sha256(client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()).hexdigest()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--views", type=int, default=6)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()

    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from pixscale import synth

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    keys = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    env = {**os.environ, **keys, "AWS_EC2_METADATA_DISABLED": "true", "PYTHONPATH": str(HERE)}
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
    )
    bucket = f"pixscale-bench-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    common = ["--no-plots", "--quiet", "--jobs", str(args.jobs)]
    views = args.samples * args.views
    times = {"local": [], "s3 (moto)": []}
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "in"
        synth.write_dataset(src, n_samples=args.samples, n_views=args.views, size=args.size, seed=0)
        for p in sorted(src.rglob("*")):
            if p.is_file():
                client.put_object(Bucket=bucket, Key=f"in/{p.relative_to(src).as_posix()}", Body=p.read_bytes())
        _run([str(src), f"{tmp}/warm", *common], env)  # kernels compiled into the cache, not counted
        for r in range(args.rounds):
            times["local"].append(_run([str(src), f"{tmp}/out{r}", *common], env))
            s3_args = [f"s3://{bucket}/in", f"s3://{bucket}/out{r}", "--storage-option", f"endpoint_url={endpoint}"]
            times["s3 (moto)"].append(_run([*s3_args, *common], env))
            if _digests_s3(client, bucket, f"out{r}") != _digests_local(f"{tmp}/out{r}"):
                sys.exit(f"round {r}: the S3 run did not write the local run's bytes")
    server.stop()
    load = os.getloadavg()[0]
    print(f"{args.samples} samples x {args.views} views of {args.size}^2, --jobs {args.jobs}, {args.rounds} rounds")
    print(f"load average at the end: {load:.1f}; the same bytes in every round")
    print(f"{'':12} {'median s':>9} {'views/s':>8} {'ratio':>6} {'extra s':>8} {'extra ms/view':>14}")
    base = statistics.median(times["local"])
    for name, ts in times.items():
        m = statistics.median(ts)
        extra = m - base
        print(f"{name:12} {m:9.2f} {views / m:8.1f} {m / base:6.2f} {extra:8.2f} {1000 * extra / views:14.1f}")


if __name__ == "__main__":
    main()
