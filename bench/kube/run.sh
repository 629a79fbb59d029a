#!/usr/bin/env bash
# Create rate and watch latency: zenith_kube vs `kubectl create -f` vs the Python `kubernetes`
# client, on one local API server (e2e/cluster.sh). Usage: bench/kube/run.sh BUILD_DIR [COUNT]
# Prints RESULT lines. KUBECONFIG set: use that cluster instead of starting one.
set -euo pipefail
build="${1:?usage: run.sh BUILD_DIR [COUNT]}"
count="${2:-500}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench="$build/bench/kube/kube_bench"
[[ -x "$bench" ]] || bench="$build/kube_bench"
[[ -x "$bench" ]] || { echo "kube_bench not built in $build" >&2; exit 1; }
dir=""
if [[ -z "${KUBECONFIG:-}" ]]; then
  dir="$(mktemp -d /tmp/zk-bench-XXXXXX)"
  rmdir "$dir"
  "$root/e2e/cluster.sh" --dir "$dir" up >&2
  trap '"$root/e2e/cluster.sh" --dir "$dir" down >&2' EXIT
  export KUBECONFIG="$dir/kubeconfig"
fi
val() { sed -n "s/^$1=//p" <<<"$2"; }

z1="$("$bench" --kubeconfig "$KUBECONFIG" --count "$count" --concurrency 1)"
z8="$("$bench" --kubeconfig "$KUBECONFIG" --count "$count" --concurrency 8)"
printf '%s\n%s\n' "$z1" "$z8" | grep -v '=' >&2 || true

# kubectl: one process creating COUNT objects from one file (its own pipeline, sequential).
ns="kube-bench-kubectl-$$"
kubectl create namespace "$ns" >/dev/null
manifest="$(mktemp)"
for ((i = 0; i < count; i++)); do
  printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\n  namespace: %s\ndata:\n  k: v\n' "$i" "$ns"
done >"$manifest"
t0=$(date +%s.%N)
kubectl create -f "$manifest" >/dev/null
t1=$(date +%s.%N)
rm -f "$manifest"
kubectl delete namespace "$ns" --wait=false >/dev/null
kubectl_rate=$(awk -v n="$count" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')

py="$(python3 "$root/bench/kube/py_bench.py" "$KUBECONFIG" "$count" 2>/dev/null || true)"
py_rate="$(val PY_CREATE_RATE "$py")"; py_rate="${py_rate:-0}"
z_rate="$(val ZENITH_CREATE_RATE "$z1")"
ratio=$(awk -v z="$z_rate" -v k="$kubectl_rate" -v p="$py_rate" 'BEGIN { m = (k > p) ? k : p; r = (m > 0) ? z / m : 0; printf "%.2f", r }')
echo "RESULT kube_create zenith=$z_rate kubectl=$kubectl_rate python=$py_rate unit=objects/s ratio=$ratio"
echo "RESULT kube_create_concurrent zenith=$(val ZENITH_CREATE_RATE "$z8") unit=objects/s concurrency=8"
zp50="$(val ZENITH_WATCH_P50_MS "$z1")"
pp50="$(val PY_WATCH_P50_MS "$py")"; pp50="${pp50:-0}"
lratio=$(awk -v z="$zp50" -v p="$pp50" 'BEGIN { r = (z > 0) ? p / z : 0; printf "%.2f", r }')
echo "RESULT kube_watch_latency_p50 zenith=$zp50 python=$pp50 unit=ms ratio=$lratio"
echo "RESULT kube_watch_latency_p99 zenith=$(val ZENITH_WATCH_P99_MS "$z1") python=$(val PY_WATCH_P99_MS "$py") unit=ms"
