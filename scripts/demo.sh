#!/usr/bin/env bash
# The front door: shows what Zenith does today, step by step, and cleans up after itself.
#   scripts/demo.sh [BUILD_DIR]      (make demo builds first, then runs this)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
cd "$root"
work=$(mktemp -d /tmp/zenith-demo.XXXXXX)
shown=()
pids=()
cluster_up=0

cleanup() {
  for pid in "${pids[@]:-}"; do
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  done
  if [ "$cluster_up" -eq 1 ]; then e2e/cluster.sh down --dir "$work/cluster" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {  # url, seconds
  for _ in $(seq 1 $(($2 * 10))); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "demo: $1 did not answer within $2 s" >&2; return 1
}

# 1. The three programs: config, admin endpoint, clean shutdown.
step "the three programs start, serve /healthz, /readyz and /metrics, and stop on SIGTERM"
for program in operator/zenith-operator device-plugin/zenith-device-plugin runtime/zenith-runtime; do
  bin="$build/$program"
  name=$(basename "$program")
  port=$(free_port)
  args=(--metrics.address=127.0.0.1 --metrics.port="$port" --log.format=json)
  [ "$name" = zenith-device-plugin ] && args+=(--backend=fixture --fixture=examples/topologies/dgx-h100.yaml --node-name=demo-node)
  [ "$name" = zenith-runtime ] && args+=(--source=/tmp/dataset --format=tfrecord)
  "$bin" "${args[@]}" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/healthz" 10
  printf '%-22s /healthz=%s /readyz=%s /metrics=%s bytes\n' "$name" \
    "$(curl -fsS "http://127.0.0.1:$port/healthz" | tr -d '\n')" \
    "$(curl -fsS "http://127.0.0.1:$port/readyz" | tr -d '\n')" \
    "$(curl -fsS "http://127.0.0.1:$port/metrics" | wc -c)"
  kill -TERM "$pid"
  if wait "$pid"; then
    echo "$name stopped cleanly on SIGTERM (exit 0); its log:"
  else
    echo "demo: $name exited with status $? after SIGTERM" >&2
    exit 1
  fi
  sed 's/^/    /' "$work/$name.log"
done
shown+=("the operator, device plugin and runtime programs serving /healthz, /readyz and /metrics and stopping cleanly")

step "a mistyped setting is refused with the key and where it came from"
if "$build/operator/zenith-operator" --workrs=3 2>"$work/err.txt"; then
  echo "demo: a bad flag was accepted" >&2; exit 1
fi
sed 's/^/    /' "$work/err.txt"
shown+=("config errors that name the key and its source")

# 2. GPU discovery and the best-connected GPU sets, from machine fixtures.
if [ -x "$build/device-plugin/zenith-discover" ]; then
  step "GPU topology discovery from machine fixtures, and the GPU set a 4-GPU pod would get"
  discover="$build/device-plugin/zenith-discover"
  for fixture in examples/topologies/*.yaml; do
    "$discover" --backend=fixture --fixture="$fixture" >"$work/topo.json"
    python3 - "$fixture" "$work/topo.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[2]))
gpus = t["gpus"]
print(f"  {sys.argv[1]}: {len(gpus)} x {gpus[0]['name']}, {len(t['numa_nodes'])} NUMA nodes, "
      f"NVSwitch: {t['nvswitch']}, NVLink links per GPU: {[sum(r) for r in t['nvlink']]}")
PY
    n=$(grep -c 'index:' "$fixture")
    k=$((n >= 8 ? 4 : 2))
    if [ "$n" -ge 2 ]; then
      rest=$(seq -s, 1 $((n - 1)))
      echo "    a pod asking for $k GPUs gets:               $("$discover" --backend=fixture --fixture="$fixture" --choose=$k)"
      echo "    ... and when GPU 0 is already taken:       $("$discover" --backend=fixture --fixture="$fixture" --choose=$k --available="$rest")"
    fi
  done
  shown+=("GPU, NVLink and NUMA discovery of the example machines and NVLink-aware GPU set choice")
fi

# 3. The local real control plane with simulated GPU nodes.
if [ -x e2e/cluster.sh ] && command -v go >/dev/null; then
  step "a real local control plane (etcd + kube-apiserver + kwok) with simulated GPU nodes"
  e2e/cluster.sh up --dir "$work/cluster" --with-kwok
  cluster_up=1
  export KUBECONFIG="$work/cluster/kubeconfig"
  e2e/nodes.sh create 4 --prefix demo-gpu --gpus 8 --label zenith.ai/gpu.product=NVIDIA-H100-80GB-HBM3
  for _ in $(seq 1 100); do
    ready=$(kubectl get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true)
    [ "$ready" -ge 4 ] && break
    sleep 0.2
  done
  kubectl get nodes -o custom-columns='NODE:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,GPUS:.status.allocatable.zenith\.ai/gpu,PRODUCT:.metadata.labels.zenith\.ai/gpu\.product'
  shown+=("a real kube-apiserver with 4 simulated 8-GPU nodes")

  step "the ZenithJob API: kubectl apply, kubectl get zj, and a bad manifest refused by the API server"
  kubectl apply -f crds/zenith.ai_zenithjobs.yaml
  kubectl wait --for=condition=Established crd/zenithjobs.zenith.ai --timeout=60s >/dev/null
  kubectl apply -f examples/zenithjob-small.yaml -f examples/zenithjob-llm.yaml
  kubectl get zj
  if kubectl apply -f tests/crds/invalid/min-available-above-replicas.yaml 2>"$work/err.txt"; then
    echo "demo: an invalid ZenithJob was accepted" >&2; exit 1
  fi
  sed 's/^/    /' "$work/err.txt"
  shown+=("the ZenithJob CRD: kubectl get zj columns, defaults, and validation errors naming the field")
  e2e/cluster.sh down --dir "$work/cluster" >/dev/null
  cluster_up=0
fi

step "what this demo showed"
for s in "${shown[@]}"; do echo "  - $s"; done
echo "  Not yet: ZenithJobs running end to end (operator, gang scheduler and data plane are in progress)."
