#!/usr/bin/env bash
# The ZenithJob CRD on a real kube-apiserver: it installs and becomes Established, every example
# is accepted, every manifest in invalid/ is rejected with a message naming the field its
# "# expect:" line gives, and `kubectl get zj` prints the documented columns.
#   KUBECONFIG=... tests/crds/crd_test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${KUBECONFIG:?set KUBECONFIG to the kubeconfig of the test cluster}"
ns="crd-test-$$"
passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
expect_eq() { # ACTUAL EXPECTED WHAT
  if [ "$1" = "$2" ]; then ok "$3: $1"; else bad "$3: got '$1', want '$2'"; fi
}
cleanup() { kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

kubectl apply -f "$root/crds/zenith.ai_zenithjobs.yaml" >/dev/null
kubectl wait --for=condition=Established crd/zenithjobs.zenith.ai --timeout=60s >/dev/null
ok "CRD zenithjobs.zenith.ai is Established"
kubectl create namespace "$ns" >/dev/null

for f in "$root"/examples/zenithjob-*.yaml; do
  if out=$(kubectl apply -n "$ns" --dry-run=server -f "$f" 2>&1); then
    ok "example $(basename "$f") accepted"
  else
    bad "example $(basename "$f") rejected: $out"
  fi
done

for f in "$here"/invalid/*.yaml; do
  expect=$(sed -n 's/^# expect: //p' "$f" | head -1)
  if out=$(kubectl apply -n "$ns" --dry-run=server -f "$f" 2>&1); then
    bad "invalid $(basename "$f") was accepted"
  elif grep -qF -- "$expect" <<<"$out"; then
    ok "invalid $(basename "$f") rejected naming '$expect'"
  else
    bad "invalid $(basename "$f") rejected without naming '$expect': $out"
  fi
done

# Defaults are applied by the API server.
kubectl apply -n "$ns" -f "$root/examples/zenithjob-llm.yaml" >/dev/null
got=$(kubectl get zj llm-pretrain -n "$ns" -o jsonpath='{.spec.runPolicy.cleanPodPolicy}/{.spec.topology.numaAligned}/{.spec.dataPlane.prefetch}')
expect_eq "$got" "Running/true/8" "defaults and values stored"
kubectl apply -n "$ns" -f "$root/examples/zenithjob-small.yaml" >/dev/null
got=$(kubectl get zj mnist -n "$ns" -o jsonpath='{.spec.scheduling.queue}/{.spec.runPolicy.maxRetries}/{.spec.gpusPerReplica}')
expect_eq "$got" "default/3/1" "scheduling and run-policy defaults"

# The printer columns, the short name and the category.
# Whole output first: `| head -1` could end kubectl with SIGPIPE, which pipefail reports.
listing=$(kubectl get zj -n "$ns")
header=$(sed -n 1p <<<"$listing" | tr -s ' ')
expect_eq "$header" "NAME PHASE READY GPUS QUEUE AGE" "kubectl get zj columns"
# (ZenithNodes share the category; other tests may have published some.)
names=$(kubectl get zenith -n "$ns" -o name | grep '^zenithjob' || true)
expect_eq "$(sort <<<"$names" | tr '\n' ' ')" \
  "zenithjob.zenith.ai/llm-pretrain zenithjob.zenith.ai/mnist " "category 'zenith' lists the jobs"
# The status subresource: a status write does not touch the spec, a spec write ignores status.
kubectl patch zj mnist -n "$ns" --subresource=status --type=merge \
  -p '{"status":{"phase":"Running","ready":"2/2","gpus":2}}' >/dev/null
row=$(kubectl get zj mnist -n "$ns" --no-headers)
row=$(tr -s ' ' <<<"$row" | cut -d' ' -f2-5)
expect_eq "$row" "Running 2/2 2 default" "status columns show phase, ready, GPUs, queue"

# ZenithNode: cluster-scoped, short name zn, its printer columns, and a bad topology refused.
kubectl apply -f "$root/crds/zenith.ai_zenithnodes.yaml" >/dev/null
kubectl wait --for=condition=Established crd/zenithnodes.zenith.ai --timeout=60s >/dev/null
zn="crd-test-node-$$"
kubectl apply -f - >/dev/null <<YAML
apiVersion: zenith.ai/v1alpha1
kind: ZenithNode
metadata: {name: $zn}
spec: {nodeName: $zn}
status:
  gpuCount: 2
  healthyGpus: 1
  product: NVIDIA H100 80GB HBM3
  nvlink: true
  nvswitch: false
  topology:
    gpus:
      - {index: 0, uuid: GPU-a, healthy: true, mig: disabled}
      - {index: 1, uuid: GPU-b, healthy: false, mig: disabled}
    nvlink: [[0, 18], [18, 0]]
YAML
listing=$(kubectl get zn "$zn")
expect_eq "$(sed -n 1p <<<"$listing" | tr -s ' ')" "NAME GPUS HEALTHY PRODUCT NVLINK NVSWITCH AGE" \
  "kubectl get zn columns"
expect_eq "$(sed -n 2p <<<"$listing" | tr -s ' ' | cut -d' ' -f2-3)" "2 1" "zn GPU and health columns"
if out=$(kubectl apply --dry-run=server -f - 2>&1 <<YAML
apiVersion: zenith.ai/v1alpha1
kind: ZenithNode
metadata: {name: $zn-bad}
spec: {nodeName: $zn-bad}
status:
  topology:
    gpus: [{index: 0, mig: sometimes}]
YAML
); then
  bad "a ZenithNode with an unknown MIG mode was accepted"
elif grep -qF "status.topology.gpus[0].mig" <<<"$out"; then
  ok "a bad ZenithNode is rejected naming status.topology.gpus[0].mig"
else
  bad "a bad ZenithNode was rejected without naming the field: $out"
fi
kubectl delete zn "$zn" >/dev/null

# ZenithQueue: the example queues, their columns and a weight of 0 refused.
kubectl apply -f "$root/crds/zenith.ai_zenithqueues.yaml" >/dev/null
kubectl wait --for=condition=Established crd/zenithqueues.zenith.ai --timeout=60s >/dev/null
if out=$(kubectl apply --dry-run=server -f "$root/examples/zenithqueues.yaml" 2>&1); then
  ok "example zenithqueues.yaml accepted"
else
  bad "example zenithqueues.yaml rejected: $out"
fi
zq="crd-test-queue-$$"
kubectl apply -f - >/dev/null <<YAML
apiVersion: zenith.ai/v1alpha1
kind: ZenithQueue
metadata: {name: $zq}
spec: {gpuQuota: 16}
YAML
listing=$(kubectl get zq "$zq")
expect_eq "$(sed -n 1p <<<"$listing" | tr -s ' ')" "NAME WEIGHT QUOTA USED PENDING AGE" "kubectl get zq columns"
expect_eq "$(sed -n 2p <<<"$listing" | tr -s ' ' | cut -d' ' -f2-3)" "1 16" "zq default weight and quota"
if out=$(kubectl apply --dry-run=server -f - 2>&1 <<YAML
apiVersion: zenith.ai/v1alpha1
kind: ZenithQueue
metadata: {name: $zq-bad}
spec: {weight: 0}
YAML
); then
  bad "a ZenithQueue with weight 0 was accepted"
elif grep -qF "spec.weight" <<<"$out"; then
  ok "a ZenithQueue with weight 0 is rejected naming spec.weight"
else
  bad "weight 0 rejected without naming the field: $out"
fi
kubectl delete zq "$zq" >/dev/null

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
