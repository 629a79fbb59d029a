#!/usr/bin/env bash
# The front door: shows what Zenith does, step by step, and cleans up after itself.
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

# 1. The node-side programs on their own: config, admin endpoint, clean shutdown. (The operator
# needs an API server; it is shown with the control plane below.)
step "the device plugin and the sidecar start, serve /healthz, /readyz and /metrics, and stop on SIGTERM"
for program in device-plugin/zenith-device-plugin runtime/zenith-runtime; do
  bin="$build/$program"
  name=$(basename "$program")
  port=$(free_port)
  args=(--metrics.address=127.0.0.1 --metrics.port="$port" --log.format=json)
  # No kubelet here: the plugin serves its socket and keeps trying to register (/readyz says so).
  [ "$name" = zenith-device-plugin ] && mkdir -p "$work/kubelet" &&
    args+=(--backend=fixture --fixture=examples/topologies/dgx-h100.yaml --kubelet-dir="$work/kubelet")
  if [ "$name" = zenith-runtime ]; then
    head -c 1048576 /dev/urandom >"$work/step1.bin"
    args+=(--source="$work/step1.bin" --format=raw --record-size=256 --shm-dir="$work" --channel-name=step1)
  fi
  "$bin" "${args[@]}" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/healthz" 10
  printf '%-22s /healthz=%s /readyz=%s /metrics=%s bytes\n' "$name" \
    "$(curl -fsS "http://127.0.0.1:$port/healthz" | tr -d '\n')" \
    "$(curl -sS "http://127.0.0.1:$port/readyz" | tr -d '\n')" \
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
shown+=("the device plugin and runtime programs serving /healthz, /readyz and /metrics and stopping cleanly")

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

# 3. The whole system on a real local control plane with simulated GPU nodes.
if [ -x e2e/cluster.sh ] && command -v go >/dev/null; then
  step "a real local control plane (etcd + kube-apiserver + kwok) with 6 simulated GPU nodes"
  e2e/cluster.sh up --dir "$work/cluster" --with-kwok
  cluster_up=1
  export KUBECONFIG="$work/cluster/kubeconfig"
  # Four DGX H100 boxes in one rack and two PCIe boxes; kwok plays their kubelets and runs pods.
  e2e/nodes.sh create 4 --prefix dgx --gpus 8 --cpu 224 --memory 2Ti \
    --label topology.kubernetes.io/rack=r1 --wait 60
  e2e/nodes.sh create 2 --prefix pcie --gpus 4 --cpu 64 --memory 512Gi --wait 60
  shown+=("a real kube-apiserver with 6 simulated GPU nodes (kwok)")

  step "the chart's CRDs and least-privilege RBAC (as helm install would create them)"
  helm=$(e2e/build-tools.sh helm)
  kubectl apply -f charts/zenith/crds/
  kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
  kubectl create namespace zenith-system >/dev/null
  "$helm" template zenith charts/zenith -n zenith-system \
    --show-only templates/rbac-operator.yaml --show-only templates/rbac-device-plugin.yaml |
    kubectl apply -f -
  # No controller-manager here, so nothing creates the namespace's default ServiceAccount.
  kubectl create serviceaccount default >/dev/null
  shown+=("the CRDs and RBAC of charts/zenith")

  step "a device plugin per node (fixture mode) publishes each node's GPU topology"
  for i in 0 1 2 3 4 5; do
    if [ "$i" -lt 4 ]; then node=dgx-$i fixture=dgx-h100; else node=pcie-$((i - 4)) fixture=pcie-4gpu-2numa; fi
    mkdir -p "$work/kubelet-$node"
    "$build/device-plugin/zenith-device-plugin" --backend=fixture \
      --fixture="examples/topologies/$fixture.yaml" --kubelet-dir="$work/kubelet-$node" \
      --node-name="$node" --kubeconfig="$KUBECONFIG" --metrics.port=0 \
      >"$work/device-plugin-$node.log" 2>&1 &
    pids+=("$!")
  done
  for _ in $(seq 1 100); do
    [ "$(kubectl get zenithnodes --no-headers 2>/dev/null | wc -l)" -ge 6 ] && break
    sleep 0.2
  done
  kubectl get zenithnodes
  kubectl get nodes -L zenith.ai/gpu.product,zenith.ai/gpu.count,zenith.ai/gpu.nvswitch
  shown+=("device plugins publishing ZenithNodes (GPUs, NVLink, NVSwitch, NUMA, health) and node labels")

  step "the operator with its gang scheduler and job API; three jobs from examples/"
  api_port=$(free_port)
  grpc_port=$(free_port)
  op_port=$(free_port)
  "$build/operator/zenith-operator" --kubeconfig="$KUBECONFIG" --binder=gang \
    --leader-election.namespace=zenith-system --metrics.port="$op_port" \
    --api.enabled=true --api.address=127.0.0.1 --api.port="$api_port" \
    --api.grpc-port="$grpc_port" >"$work/operator.log" 2>&1 &
  pids+=("$!")
  wait_http "http://127.0.0.1:$op_port/readyz" 30
  kubectl apply -f examples/zenithqueues.yaml -f examples/zenithjob-small.yaml \
    -f examples/zenithjob-llm.yaml -f examples/zenithjob-fail.yaml
  for _ in $(seq 1 120); do
    listing=$(kubectl get zj --no-headers)
    printf '  %s\n' "$(tr -s ' ' <<<"$listing" | cut -d' ' -f1,2 | tr '\n' ' ')"
    [ "$(grep -cE ' (Succeeded|Failed) ' <<<"$listing")" -ge 3 ] && break
    sleep 1
  done
  kubectl get zj
  echo "  where the LLM job's 4 workers landed (GPU indices chosen on NVLink-connected sets):"
  kubectl get zj llm-pretrain -o jsonpath='    {.status.scheduling.message}{"\n"}'
  echo "  the failing job, as kubectl describe shows it:"
  kubectl describe zj fails-on-purpose | sed -n '/^Events:/,$p' | sed 's/^/    /'
  kubectl get zenithqueues
  shown+=("ZenithJobs gang-scheduled on NVLink-connected GPUs, run to Succeeded / Failed, with Events and queues")

  step "the REST API: a user's token, checked by TokenReview and SubjectAccessReview"
  kubectl create serviceaccount demo-user >/dev/null
  kubectl create clusterrole zenith-demo-user --verb=get,list,create,delete \
    --resource=zenithjobs.zenith.ai,zenithnodes.zenith.ai >/dev/null
  kubectl create clusterrolebinding zenith-demo-user --clusterrole=zenith-demo-user \
    --serviceaccount=default:demo-user >/dev/null
  token=$(kubectl create token demo-user)
  api="http://127.0.0.1:$api_port/api/v1"
  echo "  POST $api/jobs"
  curl -sS -H "Authorization: Bearer $token" -d '{"name": "from-api", "user": "demo-user",
    "project": "demo", "image": "trainer:1", "replicas": 2, "gpus": 4}' "$api/jobs" |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print("   ", {k: j[k] for k in ("id", "phase", "gpus", "user")})'
  echo "  GET $api/cluster/status"
  curl -sS -H "Authorization: Bearer $token" "$api/cluster/status" | sed 's/^/    /'
  echo
  echo "  without a token:"
  curl -sS "$api/jobs" | sed 's/^/    /'
  echo
  shown+=("the REST job API with Kubernetes authentication and authorization")
  e2e/cluster.sh down --dir "$work/cluster" >/dev/null
  cluster_up=0
fi

# 4. The data plane: the sidecar streams a dataset to a Python consumer through shared memory.
if [ -d "$build/runtime/python/zenith" ] && python3 -c 'import numpy' 2>/dev/null; then
  step "the data plane: zenith-runtime streams 64 MiB of 256-byte records to a Python trainer"
  python3 -c "import os; open('$work/train.bin', 'wb').write(os.urandom(64 << 20))"
  rt_port=$(free_port)
  "$build/runtime/zenith-runtime" --source="$work/train.bin" --format=raw --record-size=256 \
    --batch-size=1024 --epochs=1 --shm-dir="$work" --channel-name=demo \
    --metrics.address=127.0.0.1 --metrics.port="$rt_port" >"$work/runtime.log" 2>&1 &
  rt_pid=$!
  pids+=("$rt_pid")
  PYTHONPATH="$build/runtime/python" python3 - "$work/demo.zenith" <<'PY'
import sys, time, zenith
channel = zenith.Channel(sys.argv[1], timeout=30)
start, samples, batches = None, 0, 0
for batch in channel:
    start = start or time.monotonic()
    samples += batch.num_samples   # a zero-copy view of the batch in shared memory
    batches += 1
elapsed = time.monotonic() - start
print(f"  the trainer received {samples} samples in {batches} batches: "
      f"{samples / elapsed / 1e6:.2f} M samples/s ({samples * 256 / elapsed / 1e9:.2f} GB/s)")
PY
  curl -fsS "http://127.0.0.1:$rt_port/metrics" | grep -E '^zenith_runtime_(samples_total|trainer_wait)' | sed 's/^/    /' || true
  kill -TERM "$rt_pid" 2>/dev/null || true
  wait "$rt_pid" 2>/dev/null || true
  shown+=("the zenith-runtime sidecar feeding a Python consumer zero-copy through shared memory")
fi

step "what this demo showed"
for s in "${shown[@]}"; do echo "  - $s"; done
