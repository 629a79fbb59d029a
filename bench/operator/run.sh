#!/usr/bin/env bash
# Gang start-up latency: zenith-operator (ZenithJobs, its built-in all-or-nothing binder) against
# the upstream kube-scheduler binding the same worker pods, on one local control plane with 50
# kwok nodes of 8 zenith.ai/gpu. 100 jobs x 4 workers x 1 GPU, submitted back to back; per job,
# submit -> all 4 pods bound and submit -> all 4 Running; p50 and p99 over the jobs.
# Rounds alternate Zenith and the peer (one warm-up, then PAIRS, default 3); each RESULT gives
# the medians and the median/min/max of the per-round ratio peer/zenith (> 1: Zenith faster).
#   bench/operator/run.sh BUILD_DIR     (env: PAIRS, JOBS=100, WORKERS=4, NODES=50)
set -euo pipefail
build="${1:?usage: run.sh BUILD_DIR}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
pairs="${PAIRS:-3}" jobs="${JOBS:-100}" workers="${WORKERS:-4}" nodes="${NODES:-50}"
bench="$build/bench/operator/operator_bench"
op="${ZENITH_OPERATOR:-$build/operator/zenith-operator}"
if [[ ! -x "$bench" || ! -x "$op" ]]; then
  # The operator build plus this one benchmark (no other bench dependency needed).
  cmake -S "$root" -B "$build" -G Ninja -DZENITH_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j2 --target operator_bench zenith-operator >&2
fi

dir="$(mktemp -d /tmp/zop-bench-XXXXXX)"
rmdir "$dir"
oppid=""
cleanup() {
  if [[ -n "$oppid" ]]; then { kill "$oppid" && wait "$oppid"; } 2>/dev/null || true; fi
  "$root/e2e/cluster.sh" --dir "$dir" down >&2 || true
}
trap cleanup EXIT
"$root/e2e/cluster.sh" --dir "$dir" up --with-kwok --with-scheduler >&2
export KUBECONFIG="$dir/kubeconfig"
"$root/e2e/nodes.sh" create "$nodes" --gpus 8 --wait 120 >&2
kubectl apply -f "$root/crds/zenith.ai_zenithjobs.yaml" >/dev/null
kubectl wait --for=condition=Established crd/zenithjobs.zenith.ai --timeout=60s >/dev/null
"$op" --kubeconfig="$KUBECONFIG" --leader-election.enabled=false --workers=8 \
  --metrics.address=127.0.0.1 --metrics.port=0 --kube.qps=500 --kube.burst=1000 \
  --log.level=warn >"$dir.operator.log" 2>&1 &
oppid=$!

# run MODE -> "bound_p50 bound_p99 running_p50 running_p99", then frees the GPUs again.
run() {
  local out ns
  out="$("$bench" --kubeconfig "$KUBECONFIG" --mode "$1" --jobs "$jobs" --workers "$workers")" ||
    { echo "$out" >&2; echo "operator_bench --mode $1 failed" >&2; return 1; }
  ns="$(sed -n 's/^NAMESPACE=//p' <<<"$out")"
  if [[ "$1" == zenith ]]; then
    kubectl -n "$ns" delete zj --all --wait=false >/dev/null
  else
    kubectl -n "$ns" delete pods --all --grace-period=0 --force >/dev/null 2>&1
  fi
  local t0=$SECONDS
  while [[ -n "$(kubectl -n "$ns" get pods -o name 2>/dev/null)" ]]; do
    ((SECONDS - t0 < 120)) || { echo "pods of $ns not gone after 120 s" >&2; return 1; }
    sleep 0.5
  done
  echo "$(sed -n 's/^BOUND_P50_MS=//p' <<<"$out") $(sed -n 's/^BOUND_P99_MS=//p' <<<"$out")" \
    "$(sed -n 's/^RUNNING_P50_MS=//p' <<<"$out") $(sed -n 's/^RUNNING_P99_MS=//p' <<<"$out")"
}

samples="$(mktemp)"
for ((r = 0; r <= pairs; r++)); do
  z="$(run zenith)"
  k="$(run kube-scheduler)"
  echo "# round $r$( ((r == 0)) && echo ' (warm-up)'): zenith $z | kube-scheduler $k (ms: bound p50 p99, running p50 p99)" >&2
  ((r == 0)) || echo "$z $k" >>"$samples"
done
python3 - "$samples" "$jobs" "$workers" "$nodes" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
jobs, workers, nodes = sys.argv[2:5]
names = ["gang_bound_p50", "gang_bound_p99", "gang_running_p50", "gang_running_p99"]
for i, n in enumerate(names):
    z = [r[i] for r in rows]
    k = [r[4 + i] for r in rows]
    ratios = [b / a for a, b in zip(z, k) if a > 0]
    print(f"RESULT operator_{n} zenith={statistics.median(z):.4g} "
          f"kube_scheduler={statistics.median(k):.4g} unit=ms ratio={statistics.median(ratios):.3f} "
          f"min={min(ratios):.3f} max={max(ratios):.3f} rounds={len(rows)} "
          f"jobs={jobs} workers={workers} nodes={nodes}")
PY
rm -f "$samples"
