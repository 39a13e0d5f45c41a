#!/usr/bin/env bash
# The one prepared run for a machine with a CUDA GPU and 16 cores (an H200 lent with no package registry):
# benchmarks/gpu.py, the GPU tests on the device, and issue #21's 16-core tables (cold start; scaling.py at 600
# and 1800 views, with normalize_batch on 1-16 threads). Everything lands flat under $OUT (default
# benchmarks/results/device), 8 files: env.txt, gpu.md, gpu.json, tests.txt, coldstart.md, coldstart.json,
# scaling.md and log.txt (all of the output).
#
# Two halves:
#
#   bash benchmarks/device_gpu.sh wheels [NAME==VERSION ...]
#       HERE, where PyPI is reachable, in the checkout that the device tool sends: download into .whl/ (ignored
#       through .git/info/exclude) the cp312 x86-64 wheels the GPU machine's image may lack. That image's python3
#       (3.12, itself a venv) has torch, CuPy, numba, numba-cuda, scipy, imageio, tqdm and filelock, but no
#       imagecodecs (a pixscale dependency), and its numpy may be newer than its numba accepts: imagecodecs,
#       numba-cuda 0.30.4 and numpy 2.2.6 (for that case) are about 46 MB of the 64 MB a call may carry. Name
#       more wheels to add; numba==0.68.1 llvmlite==0.50.0 alone are 63 MB: to carry them, delete
#       .whl/imagecodecs-* and run STEPS="setup gpu tests" (the dataset runs of scaling.py need imagecodecs).
#
#   bash benchmarks/device_gpu.sh
#       THERE: the device tool's run with command `bash benchmarks/device_gpu.sh`, carry [".whl"], timeout_s 600.
#       A venv over the image's packages (its torch and CuPy), the carried wheels installed into it only where
#       the image lacks them or its numba does not work, pixscale from this tree (a path and its metadata,
#       nothing built or fetched); then the steps, each under `timeout`: their caps add up to 510 s, plus about
#       20 s of setup, so the run ends inside the tool's 600 s (about 6 minutes expected). STEPS="setup gpu tests
#       coldstart scaling" picks steps (setup always runs): a rerun of one is `STEPS=gpu bash benchmarks/device_gpu.sh`.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = wheels ]; then
    shift
    mkdir -p .whl
    exclude="$(git rev-parse --git-common-dir)/info/exclude"
    grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
        imagecodecs numba-cuda==0.30.4 numpy==2.2.6 "$@"
    du -ch .whl/*.whl
    exit
fi

OUT=${OUT:-benchmarks/results/device}
mkdir -p "$OUT"
STEPS=${STEPS:-setup gpu tests coldstart scaling}
exec > >(tee -a "$OUT/log.txt") 2>&1
want() { [[ " $STEPS " == *" $1 "* ]]; }
step() {  # step NAME SECONDS COMMAND...: time it, cap it, never stop the script
    local name=$1 limit=$2 t0=$SECONDS rc
    shift 2
    echo "=== $name (at most ${limit} s): $*"
    timeout --kill-after=10 "$limit" "$@"
    rc=$?
    echo "=== $name: rc=$rc in $((SECONDS - t0)) s$([ $rc = 124 ] && echo ' (TIMED OUT)')"
    return $rc
}
export PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/ps-numba PIXSCALE_CACHE_DIR=/tmp/ps-cache
unset NUMBA_ENABLE_CUDASIM
rm -rf "$NUMBA_CACHE_DIR" "$PIXSCALE_CACHE_DIR"

# 1. Setup: what the machine has, a venv over it, the carried wheels where needed, pixscale.
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1
    nproc
    python3 --version
    python3 -m pip list 2>/dev/null | grep -iE '^(numba|numba-cuda|llvmlite|numpy|cuda-|torch |cupy|imagecodecs|scipy|imageio|tqdm|filelock|pytest|hypothesis)'
    ls .whl 2>/dev/null
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
venv=/tmp/ps-venv
py=$venv/bin/python
t0=$SECONDS
rm -rf "$venv"
python3 -m venv --system-site-packages "$venv"
# The image's python3 may itself be a venv (/opt/torch/.venv), whose packages --system-site-packages does not
# reach: add its site folders after the venv's own (so carried wheels win), their .pth files processed too.
vsite=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
image_sites=$(python3 -c 'import site; print(repr(site.getsitepackages()))')
echo "import site; list(map(site.addsitedir, $image_sites))" >"$vsite/zz_image_sites.pth"
# pixscale from this tree, as an editable install would put it (no build backend needed): a path and its metadata.
version=$(sed -n 's/^version = //p' setup.cfg)
echo "$PWD" >"$vsite/pixscale-src.pth"
mkdir -p "$vsite/pixscale-$version.dist-info"
printf 'Metadata-Version: 2.1\nName: pixscale\nVersion: %s\n' "$version" >"$vsite/pixscale-$version.dist-info/METADATA"
pipi() { "$venv/bin/pip" install -q --no-index --no-deps --no-compile --ignore-installed "$@"; }  # into the venv only
carried() { ls .whl/"$1"-*.whl 2>/dev/null | head -1; }
works() { "$py" -c 'import numba, numpy; from numba import cuda; assert cuda.is_available(), "no GPU"' 2>&1; }
for pkg in imagecodecs; do  # pixscale's dependencies the image lacks
    "$py" -c "import $pkg" 2>/dev/null || { [ -n "$(carried "$pkg")" ] && pipi "$(carried "$pkg")"; }
done
why=$(works) || {
    echo "numba as the image has it: $why"
    if [[ $why == *NumPy* ]] && [ -n "$(carried numpy)" ]; then  # numba refuses the image's numpy: an older one
        pipi "$(carried numpy)" && why=$(works)
    fi
}
[ -n "$why" ] && [ -n "$(carried numba_cuda)" ] && { pipi "$(carried numba_cuda)" && why=$(works); }
"$py" -c 'import numpy, numba, pixscale, imagecodecs; print("numpy", numpy.__version__, "numba", numba.__version__, "pixscale", pixscale.__version__)' 2>&1 | tee -a "$OUT/env.txt"
"$py" -c 'import numba_cuda, torch, cupy; print("numba-cuda", numba_cuda.__version__, "torch", torch.__version__, "cupy", cupy.__version__)' 2>&1 | tee -a "$OUT/env.txt"
[ -n "$why" ] && echo "NO GPU PATH: $why" | tee -a "$OUT/env.txt"
echo "=== setup: $((SECONDS - t0)) s"

# 2. benchmarks/gpu.py: 600 views of 512² and 1024², exact and closed form, GPU vs 16-core CPU vs torch, copies.
want gpu && step gpu 140 "$py" benchmarks/gpu.py --views 600 --sizes 512 1024 --rounds 5 --json "$OUT/gpu.json" | tee "$OUT/gpu.md"

# 3. The GPU tests, on the device (the same tests CI runs under the simulator). numba-cuda's low-occupancy warning
#    stays on: the launchers widen small grids to 128 blocks, and pytest's filterwarnings = error checks they do.
want tests && NUMBA_ENABLE_CUDASIM=0 step tests 90 "$py" -m pytest -q -p no:cacheprovider --maxfail=10 tests/gpu tests/api/test_package.py 2>&1 | tee "$OUT/tests.txt"

# 4. Issue #21 item 8 on 16 cores: the cold-start table (empty kernel caches, first calls).
want coldstart && step coldstart 100 "$py" benchmarks/coldstart.py --repeat 2 --json "$OUT/coldstart.json" | tee "$OUT/coldstart.md"

# 5. ... and scaling.py at 600 and 1800 views (100 and 300 samples of 6), --jobs and normalize_batch on 1-16 threads.
want scaling && step scaling 180 "$py" benchmarks/scaling.py --samples 100 300 --jobs 1 2 4 8 16 --rounds 1 --no-dask | tee "$OUT/scaling.md"

echo "=== all done in $SECONDS s; files under $OUT: $(ls "$OUT" | tr '\n' ' ')"
