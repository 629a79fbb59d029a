#!/usr/bin/env bash
# bench/run.sh NAME (rings, pool, telemetry, topology, io, kube, deviceplugin, dataplane, scheduler, operator or all): runs Zenith and its peers
# interleaved and prints one RESULT line per comparison (see bench/README.md, MEASURE.md).
# Builds $BUILD (default build-bench, Release, ZENITH_BUILD_BENCH=ON) only if its binaries are
# missing. Env: PAIRS (5), IO_DIR (a scratch dir), IO_TOTAL_BYTES (2 GiB), IO_FILES (8).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
B=$BUILD/bench
what=${1:-all}
cmp() { python3 bench/compare.py "$@"; }

if [[ $what != dataplane && $what != deviceplugin && $what != scheduler && $what != operator ]] && [[ ! -x $B/bench_rings || ! -x $B/bench_pool || ! -x $B/bench_io ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENITH_BUILD_BENCH=ON \
    -DZENITH_BUILD_TESTS=OFF -DZENITH_BUILD_OPERATOR=OFF -DZENITH_BUILD_DEVICE_PLUGIN=OFF >/dev/null
  cmake --build "$BUILD" -j2 --target bench_rings bench_pool bench_pool_jemalloc \
    bench_pool_mimalloc bench_io bench_telemetry bench_topology kube_bench
fi

# gb BINARY FILTER COUNTER [ENV...]: runs one benchmark, prints the counter (or ns/iteration
# when COUNTER is "ns").
gb() {
  local bin=$1 filter=$2 counter=$3
  echo "$B/$bin --benchmark_filter='^${filter}(/.*)?\$' --benchmark_format=json 2>/dev/null | \
    python3 -c 'import json,sys; b=json.load(sys.stdin)[\"benchmarks\"][0]; \
print(b[\"real_time\"] * {\"ns\":1,\"us\":1e3,\"ms\":1e6}[b[\"time_unit\"]] if \"$counter\" == \"ns\" \
else b[\"$counter\"])'"
}
# Per-thread time for Threads(2) runs: real_time is per iteration of each thread.
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) cpus: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

rings() {
  # 8x the binary's default items per SPSC run (32 Mi of 8 B, 16 Mi of 64 B: about 0.15 s per
  # run for the fastest rings): 17 ms runs swung with the VM's speed phases and start-up.
  export RINGS_ITEMS_SCALE=${RINGS_ITEMS_SCALE:-8}
  for size in 8B 64B; do
    for mode in single bulk; do
      cmp "spsc_${size}_${mode}" Mitems/s higher \
        zenith="$(gb bench_rings spsc/$size/$mode/zenith items_per_second) | awk '{print \$1/1e6}'" \
        boost="$(gb bench_rings spsc/$size/$mode/boost items_per_second) | awk '{print \$1/1e6}'" \
        moodycamel="$(gb bench_rings spsc/$size/$mode/moodycamel items_per_second) | awk '{print \$1/1e6}'" \
        atomic_queue="$(gb bench_rings spsc/$size/$mode/atomic_queue items_per_second) | awk '{print \$1/1e6}'"
    done
  done
  for mode in single bulk; do
    cmp "mpmc_8B_${mode}_2x2" Mitems/s higher \
      zenith="$(gb bench_rings mpmc/8B/$mode/zenith items_per_second) | awk '{print \$1/1e6}'" \
      atomic_queue="$(gb bench_rings mpmc/8B/$mode/atomic_queue items_per_second) | awk '{print \$1/1e6}'" \
      moodycamel="$(gb bench_rings mpmc/8B/$mode/moodycamel items_per_second) | awk '{print \$1/1e6}'" \
      tbb="$(gb bench_rings mpmc/8B/$mode/tbb items_per_second) | awk '{print \$1/1e6}'"
  done
}

pool() {
  for kind in alloc_free cross_thread; do
    cmp "pool_${kind}" Mops/s higher \
      zenith="$(gb bench_pool pool/$kind/zenith items_per_second) | awk '{print \$1/1e6}'" \
      glibc="$(gb bench_pool pool/$kind/glibc items_per_second) | awk '{print \$1/1e6}'" \
      jemalloc="$(gb bench_pool_jemalloc pool/$kind/jemalloc items_per_second) | awk '{print \$1/1e6}'" \
      mimalloc="$(gb bench_pool_mimalloc pool/$kind/mimalloc items_per_second) | awk '{print \$1/1e6}'"
  done
}

telemetry() {
  for t in 1t 2t; do
    cmp "telemetry_counter_${t}" ns/event lower \
      zenith="$(gb bench_telemetry telemetry/counter/$t/zenith ns)" \
      atomic="$(gb bench_telemetry telemetry/counter/$t/atomic ns)" \
      prometheus="$(gb bench_telemetry telemetry/counter/$t/prometheus ns)"
  done
  cmp telemetry_histogram_1t ns/event lower \
    zenith="$(gb bench_telemetry telemetry/histogram/1t/zenith ns)" \
    prometheus="$(gb bench_telemetry telemetry/histogram/1t/prometheus ns)"
}

topology() {
  # cached: TopologyCache::Get (fingerprint check + copy) against a cold hwloc load with I/O.
  for kind in with_io cpus_only cached; do
    cmp "topology_discovery_${kind}" us lower \
      zenith="$(gb bench_topology topology/$kind/zenith ns) | awk '{print \$1/1e3}'" \
      hwloc="$(gb bench_topology topology/$kind/hwloc ns) | awk '{print \$1/1e3}'"
  done
}

# fio at the same queue depth over the same files; prints bytes/s (seq) or reads/s (rand).
# --invalidate=0: fio's default drops the files' pages before each run, which made its own
# "warm" runs cold and evicted the page cache under the contestants that ran after it.
fio_cmd() {
  local rw=$1 bs=$2 direct=$3 size=$4
  local files
  files=$(ls "$IO_DIR"/f* | tr '\n' ':' | sed 's/:$//')
  echo "fio --name=z --filename=$files --rw=$rw --bs=$bs --iodepth=32 --ioengine=io_uring \
--direct=$direct --invalidate=0 --io_size=$size --randrepeat=1 --norandommap \
--output-format=json 2>/dev/null | \
python3 -c 'import json,sys; r=json.load(sys.stdin)[\"jobs\"][0][\"read\"]; \
print(r[\"bw_bytes\"] if \"$rw\" == \"read\" else r[\"iops\"])'"
}

io() {
  IO_DIR=${IO_DIR:-$BUILD/iodata}
  local total=${IO_TOTAL_BYTES:-$((2 << 30))} nfiles=${IO_FILES:-8}
  local each=$((total / nfiles))
  mkdir -p "$IO_DIR"
  for i in $(seq 0 $((nfiles - 1))); do
    if [[ ! -f $IO_DIR/f$i || $(stat -c %s "$IO_DIR/f$i") -ne $each ]]; then
      head -c "$each" /dev/urandom >"$IO_DIR/f$i"
    fi
  done
  cat "$IO_DIR"/f* >/dev/null  # page cache warm
  export ZENITH_BENCH_IO_DIR=$IO_DIR
  local rand_reads=65536
  export ZENITH_BENCH_IO_RANDOM_READS=$rand_reads ZENITH_BENCH_IO_DIRECT=0 ZENITH_BENCH_IO_SEQ_BYTES=0
  cmp io_seq_1MiB_warm_qd32 GB/s higher \
    zenith="$(gb bench_io io/seq/zenith bytes_per_second) | awk '{print \$1/1e9}'" \
    pread_loop="$(gb bench_io io/seq/pread_loop bytes_per_second) | awk '{print \$1/1e9}'" \
    fio="$(fio_cmd read 1m 0 "$total") | awk '{print \$1/1e9}'"
  cmp io_rand_4KiB_warm_qd32 kIOPS higher \
    zenith="$(gb bench_io io/rand/zenith reads_per_second) | awk '{print \$1/1e3}'" \
    pread_loop="$(gb bench_io io/rand/pread_loop reads_per_second) | awk '{print \$1/1e3}'" \
    fio="$(fio_cmd randread 4k 0 $((rand_reads * 4096))) | awk '{print \$1/1e3}'"
  cmp io_seq_1MiB_warm_fallback_vs_uring GB/s higher \
    zenith="$(gb bench_io io/seq/zenith_pread bytes_per_second) | awk '{print \$1/1e9}'" \
    zenith_uring="$(gb bench_io io/seq/zenith bytes_per_second) | awk '{print \$1/1e9}'"
  # Cold: O_DIRECT bypasses the page cache, where the filesystem allows it.
  if python3 -c "import os,sys; os.close(os.open(sys.argv[1], os.O_RDONLY|os.O_DIRECT))" "$IO_DIR/f0" 2>/dev/null; then
    local direct_bytes=$((512 << 20)) direct_reads=16384
    export ZENITH_BENCH_IO_DIRECT=1 ZENITH_BENCH_IO_SEQ_BYTES=$direct_bytes ZENITH_BENCH_IO_RANDOM_READS=$direct_reads
    PAIRS=${DIRECT_PAIRS:-5} cmp io_seq_1MiB_direct_qd32 GB/s higher \
      zenith="$(gb bench_io io/seq/zenith bytes_per_second) | awk '{print \$1/1e9}'" \
      pread_loop="$(gb bench_io io/seq/pread_loop bytes_per_second) | awk '{print \$1/1e9}'" \
      fio="$(fio_cmd read 1m 1 $direct_bytes) | awk '{print \$1/1e9}'"
    PAIRS=${DIRECT_PAIRS:-5} cmp io_rand_4KiB_direct_qd32 kIOPS higher \
      zenith="$(gb bench_io io/rand/zenith reads_per_second) | awk '{print \$1/1e3}'" \
      pread_loop="$(gb bench_io io/rand/pread_loop reads_per_second) | awk '{print \$1/1e3}'" \
      fio="$(fio_cmd randread 4k 1 $((direct_reads * 4096))) | awk '{print \$1/1e3}'"
  else
    echo "# O_DIRECT not supported on $IO_DIR: cold runs skipped"
  fi
}

case $what in
  rings) rings ;;
  pool) pool ;;
  telemetry) telemetry ;;
  topology) topology ;;
  io) io ;;
  kube) bench/kube/run.sh "$BUILD" ;;
  deviceplugin) bench/deviceplugin/run.sh ;;
  dataplane) BUILD=$BUILD bench/dataplane/run.sh ;;
  scheduler) bench/scheduler/run.sh "${SCHED_BUILD:-build-gang}" ;;
  operator) bench/operator/run.sh "${OPERATOR_BUILD:-build}" ;;
  all) rings; pool; telemetry; topology; io; bench/kube/run.sh "$BUILD" ;;
  *) echo "usage: bench/run.sh rings|pool|telemetry|topology|io|kube|deviceplugin|dataplane|scheduler|operator|all" >&2; exit 2 ;;
esac
