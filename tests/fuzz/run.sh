#!/usr/bin/env bash
# Builds the libFuzzer targets of every data-plane parser with clang (ASan + UBSan) and runs
# each for a bounded time from the seed corpora, printing one summary line per target.
#   tests/fuzz/run.sh [seconds per target, default 60]   (BUILD_FUZZ: build dir, default build-fuzz)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET=${1:-60}
OUT=${BUILD_FUZZ:-build-fuzz}
CXX=${FUZZ_CXX:-clang++}
JOBS=${JOBS:-2}
mkdir -p "$OUT/obj" "$OUT/corpus"
FLAGS=(-std=c++20 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -Iruntime/include -Icommon/include -Iruntime/src -Wno-unused-parameter)
SOURCES=(runtime/src/crc32c.cc runtime/src/byte_source.cc runtime/src/record_reader.cc
         runtime/src/raw_format.cc runtime/src/tfrecord_format.cc runtime/src/npy_format.cc
         runtime/src/tar_format.cc runtime/src/record_writer.cc runtime/src/batcher.cc
         runtime/src/dataset.cc runtime/src/file_reader.cc runtime/src/pread_reader.cc
         runtime/src/telemetry.cc runtime/src/thread_pool.cc runtime/src/cpu_affinity.cc
         runtime/src/futex.cc common/src/status.cc common/src/log.cc)
objs=()
for s in "${SOURCES[@]}"; do
  o="$OUT/obj/$(echo "$s" | tr / _).o"
  objs+=("$o")
  if [[ ! -f "$o" || "$s" -nt "$o" ]]; then
    echo "$CXX -fsanitize=fuzzer-no-link ... $s" >&2
    "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c "$s" -o "$o" &
    while [[ $(jobs -r | wc -l) -ge $JOBS ]]; do wait -n; done
  fi
done
wait
"$CXX" "${FLAGS[@]}" tests/fuzz/make_seeds.cc "${objs[@]}" -lpthread -o "$OUT/make_seeds"
"$OUT/make_seeds" tests/fuzz/corpus
for t in tfrecord tar npy raw batch; do
  "$CXX" "${FLAGS[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$t.cc" "${objs[@]}" -lpthread \
    -o "$OUT/fuzz_$t"
done
status=0
for t in tfrecord tar npy raw batch; do
  mkdir -p "$OUT/corpus/$t"
  log="$OUT/fuzz_$t.log"
  if ! "$OUT/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 "$OUT/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    status=1
    echo "FUZZ $t FAILED (see $log)"
    tail -30 "$log"
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$SECONDS_PER_TARGET")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  echo "FUZZ $t runs=$runs seconds=$secs coverage_edges=$cov"
done
exit $status
