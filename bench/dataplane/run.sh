#!/usr/bin/env bash
# bench/run.sh dataplane: Zenith's data plane (sidecar → Python consumer through shared memory,
# and the in-process zenith.Loader) against PyTorch's DataLoader (num_workers 0, 1, 2, a plain
# map-style Dataset over the same files) and against the raw read bandwidth of the same files.
# Small samples: DP_RECORDS (1M) TFRecords of DP_RECORD_BYTES (256) bytes; large samples:
# DP_NPY_SAMPLES (1024) rows of 1 MiB in .npy files. Files stay in DP_DIR (page cache warm).
# torch (CPU) goes into a bench-only venv ($BUILD/dataplane-venv); the product never needs it.
# Env: BUILD (build-bench), PAIRS (5), DP_DIR, DP_RECORDS, DP_RECORD_BYTES, DP_NPY_SAMPLES,
#      DP_TRAINER_MS (2: the simulated training step of the starvation comparison).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build-bench}
DP_DIR=${DP_DIR:-$BUILD/dataplane-data}
RECORDS=${DP_RECORDS:-1000000}
RECORD_BYTES=${DP_RECORD_BYTES:-256}
NPY_SAMPLES=${DP_NPY_SAMPLES:-1024}
TRAINER_MS=${DP_TRAINER_MS:-2}
VENV=${DP_VENV:-$BUILD/dataplane-venv}
cmp() { python3 bench/compare.py "$@"; }

# The program and the Python module, Release.
if [[ ! -x $BUILD/runtime/zenith-runtime || ! -d $BUILD/runtime/python/zenith ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENITH_BUILD_TESTS=OFF \
    -DZENITH_BUILD_OPERATOR=OFF -DZENITH_BUILD_DEVICE_PLUGIN=OFF >/dev/null
  cmake --build "$BUILD" -j2 --target zenith-runtime zenith_python
fi
BIN=$(realpath "$BUILD/runtime/zenith-runtime")
PYPATH=$(realpath "$BUILD/runtime/python")

# The bench-only venv: sees the interpreter's NumPy, adds torch. PIP_INDEX_URL may point pip
# at PyTorch's CPU-only wheels for a smaller download.
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q torch
fi
PY="env PYTHONPATH=$PYPATH $(realpath "$VENV")/bin/python bench/dataplane/bench.py"

# Data, once.
small=$DP_DIR/tfrecord-$RECORDS-$RECORD_BYTES
large=$DP_DIR/npy-$NPY_SAMPLES
if [[ ! -d $small ]]; then
  mkdir -p "$small.tmp"
  c++ -O2 -std=c++20 -Iruntime/include -Icommon/include bench/dataplane/gen_data.cc \
    "$BUILD/runtime/libzenith_runtime.a" "$BUILD/common/libzenith_common.a" \
    $(pkg-config --libs liburing hwloc 2>/dev/null) -lyaml-cpp -lpthread -o "$BUILD/dataplane_gen"
  "$BUILD/dataplane_gen" "$small.tmp" "$RECORDS" "$RECORD_BYTES" 8
  mv "$small.tmp" "$small"
fi
if [[ ! -d $large ]]; then
  $PY npy "$large.tmp" "$NPY_SAMPLES"
  mv "$large.tmp" "$large"
fi
# Page cache warm (every side reads from memory), held as a read from disk leaves it: each
# file's pages are dropped and read back, so the kernel's readahead holds them in large folios.
# The generator's small writes left them in 4 KiB pages, and mapping those cost the kernel 5-6x
# more per page (0.40-0.48 against 0.07-0.08 us, map and unmap, one 34 MB file).
python3 - "$small" "$large" <<'PY'
import os, sys
for d in sys.argv[1:]:
    for name in sorted(os.listdir(d)):
        fd = os.open(os.path.join(d, name), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        while os.read(fd, 1 << 20):
            pass
        os.close(fd)
PY

echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cpus: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "# small: $RECORDS TFRecords of $RECORD_BYTES B in 8 files, batch 256, Zenith with io=mmap (the files fit in memory: one copy from the page cache instead of two); large: $NPY_SAMPLES x 1 MiB .npy rows, batch 8, io=auto"
cmp dataplane_small_tfrecord_256B ksamples/s higher \
  zenith="$PY zenith-sidecar $small 256 $BIN --io mmap | awk '{print \$1/1e3}'" \
  dataloader_w0="$PY torch $small 256 0 | awk '{print \$1/1e3}'" \
  dataloader_w1="$PY torch $small 256 1 | awk '{print \$1/1e3}'" \
  dataloader_w2="$PY torch $small 256 2 | awk '{print \$1/1e3}'"
# The same over 3 epochs (DataLoader workers persistent): what a training run sees after the
# first pass, e.g. io=mmap keeps its mappings from one epoch to the next.
cmp dataplane_small_tfrecord_256B_3epochs ksamples/s higher \
  zenith="$PY zenith-sidecar $small 256 $BIN --io mmap --epochs 3 | awk '{print \$1/1e3}'" \
  dataloader_w0="$PY torch $small 256 0 --epochs 3 | awk '{print \$1/1e3}'" \
  dataloader_w1="$PY torch $small 256 1 --epochs 3 | awk '{print \$1/1e3}'" \
  dataloader_w2="$PY torch $small 256 2 --epochs 3 | awk '{print \$1/1e3}'"
cmp dataplane_large_npy_1MiB GB/s higher \
  zenith="$PY zenith-sidecar $large 8 $BIN --metric gbs" \
  dataloader_w0="$PY torch $large 8 0 --metric gbs" \
  dataloader_w1="$PY torch $large 8 1 --metric gbs" \
  dataloader_w2="$PY torch $large 8 2 --metric gbs"
# The in-process Loader (no sidecar) against every DataLoader configuration again: which one is
# best depends on the machine's load (w2 for the large files on a busy VM, w0 on a quiet one).
cmp dataplane_small_tfrecord_256B_inprocess ksamples/s higher \
  zenith="$PY zenith-loader $small 256 --io mmap | awk '{print \$1/1e3}'" \
  dataloader_w0="$PY torch $small 256 0 | awk '{print \$1/1e3}'" \
  dataloader_w1="$PY torch $small 256 1 | awk '{print \$1/1e3}'" \
  dataloader_w2="$PY torch $small 256 2 | awk '{print \$1/1e3}'"
cmp dataplane_large_npy_1MiB_inprocess GB/s higher \
  zenith="$PY zenith-loader $large 8 --metric gbs" \
  dataloader_w0="$PY torch $large 8 0 --metric gbs" \
  dataloader_w1="$PY torch $large 8 1 --metric gbs" \
  dataloader_w2="$PY torch $large 8 2 --metric gbs"
# Against the ceiling: the same files read with 1 MiB read(2) calls into one buffer.
cmp dataplane_large_npy_vs_raw_read GB/s higher \
  zenith="$PY zenith-sidecar $large 8 $BIN --metric gbs" \
  raw_read="$PY raw $large"
cmp dataplane_small_tfrecord_vs_raw_read GB/s higher \
  zenith="$PY zenith-sidecar $small 256 $BIN --io mmap --metric gbs" \
  raw_read="$PY raw $small"
# Starvation: a trainer that spends DP_TRAINER_MS per batch; % of its time spent waiting.
cmp dataplane_small_trainer_wait_${TRAINER_MS}ms %waiting lower \
  zenith="$PY zenith-sidecar $small 256 $BIN --io mmap --metric wait --trainer-ms $TRAINER_MS" \
  dataloader_w2="$PY torch $small 256 2 --metric wait --trainer-ms $TRAINER_MS"
