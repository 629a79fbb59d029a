#!/usr/bin/env bash
# bench/run.sh scheduler: the gang scheduler against upstream kube-scheduler on one local
# control plane with NODES nodes (half dgx-h100, half PCIe; ZenithNodes published; no kubelet,
# bound pods just stay bound). Interleaved runs (compare.py) of binding PODS pods at kube-
# scheduler's default client QPS (50) and at a raised one (QPS_HIGH), the same QPS for Zenith;
# then the resident memory of both after those runs, and the placement cycle's p99 on a
# synthetic 5000-node snapshot. Usage: bench/scheduler/run.sh [BUILD]
# Env: NODES (1000), PODS (1000), QPS_HIGH (500), PAIRS (3), CYCLE_NODES (5000), KEEP_CLUSTER.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-${BUILD:-build-gang}}
export GB=$BUILD/tests/operator/gang/gang_bench
if [[ ! -x $GB ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENITH_BUILD_RUNTIME=OFF >/dev/null
  cmake --build "$BUILD" -j2 --target gang_bench
fi
export DIR=${SCHED_BENCH_DIR:-/tmp/zenith-sched-bench-$$}
export NODES=${NODES:-1000} PODS=${PODS:-1000} PREFIX=sb PAIRS=${PAIRS:-3}
export OUT
OUT=$(mktemp -d)
export KS
KS=$(e2e/build-tools.sh kube-scheduler)
e2e/cluster.sh --dir "$DIR" up --timeout 120 >&2
cleanup() {
  [[ -n ${KEEP_CLUSTER:-} ]] || e2e/cluster.sh --dir "$DIR" down >&2 || true
  rm -rf "$OUT"
}
trap cleanup EXIT
export KUBECONFIG=$DIR/kubeconfig
kubectl apply -f crds/zenith.ai_zenithjobs.yaml -f crds/zenith.ai_zenithqueues.yaml \
  -f crds/zenith.ai_zenithnodes.yaml >/dev/null
kubectl wait --for condition=established --timeout=60s crd/zenithjobs.zenith.ai \
  crd/zenithqueues.zenith.ai crd/zenithnodes.zenith.ai >/dev/null
"$GB" nodes --count "$NODES" --prefix "$PREFIX" >&2
echo "# $(date -u +%FT%TZ) $(nproc) cpus, $NODES nodes, $PODS pods (gangs of 4 x 2 GPUs), kube-scheduler $(basename "$KS")"

for qps in 50 "${QPS_HIGH:-500}"; do
  python3 bench/compare.py "scheduler_bind_${PODS}pods_${NODES}nodes_qps${qps}" pods/s higher \
    zenith="bench/scheduler/one.sh zenith $qps" \
    kube-scheduler="bench/scheduler/one.sh kube-scheduler $qps"
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
q=${QPS_HIGH:-500}
z=$(median "$OUT/rss-zenith-$q") k=$(median "$OUT/rss-kube-scheduler-$q")
echo "RESULT scheduler_rss_${NODES}nodes zenith=$z kube-scheduler=$k unit=MiB ratio=$(awk -v z="$z" -v k="$k" 'BEGIN {printf "%.2f", k / z}')"
p99=$("$GB" cycle --nodes "${CYCLE_NODES:-5000}" --jobs 200 --rounds 50 | tail -1)
echo "RESULT scheduler_cycle_p99_${CYCLE_NODES:-5000}nodes zenith=$p99 unit=ms (placement alone, synthetic snapshot, 200 pending gangs; no peer)"
