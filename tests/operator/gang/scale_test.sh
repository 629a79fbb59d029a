#!/usr/bin/env bash
# Scale check of the gang scheduler on a local control plane (KUBECONFIG): NODES nodes (half
# dgx-h100, half PCIe, ZenithNodes published), JOBS ZenithJobs of 1-16 workers with their pods,
# the scheduler run until a cycle binds nothing, then everything read back from the API server:
# no node over-committed, no GPU index given twice, every gang bound whole or not at all.
# Usage: scale_test.sh GANG_BENCH   (env NODES=1000 JOBS=2000 SEED=1 KEEP=0)
set -euo pipefail
bench="${1:?usage: scale_test.sh path/to/gang_bench}"
: "${KUBECONFIG:?KUBECONFIG must name the cluster}"
NODES=${NODES:-1000} JOBS=${JOBS:-2000} SEED=${SEED:-1}
prefix="gscale-$$" ns="gscale-$$"
cleanup() {
  if [[ ${KEEP:-0} == 1 ]]; then return; fi
  kubectl delete pods --all -n "$ns" --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
  kubectl delete zenithjobs --all -n "$ns" --wait=false >/dev/null 2>&1 || true
  kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
  "$bench" delete-nodes --prefix "$prefix" >/dev/null || true
}
trap cleanup EXIT
root="$(cd "$(dirname "$0")/../../.." && pwd)"
kubectl apply -f "$root/crds/zenith.ai_zenithjobs.yaml" -f "$root/crds/zenith.ai_zenithqueues.yaml" \
  -f "$root/crds/zenith.ai_zenithnodes.yaml" >/dev/null
kubectl wait --for condition=established --timeout=60s crd/zenithjobs.zenith.ai \
  crd/zenithqueues.zenith.ai crd/zenithnodes.zenith.ai >/dev/null
t0=$(date +%s)
"$bench" nodes --count "$NODES" --prefix "$prefix"
"$bench" jobs --ns "$ns" --jobs "$JOBS" --min 1 --max 16 --seed "$SEED"
echo "[scale] objects created in $(($(date +%s) - t0)) s"
"$bench" schedule --ns "$ns" --prefix "$prefix"
"$bench" verify --ns "$ns" --prefix "$prefix"
