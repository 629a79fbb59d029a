#!/usr/bin/env bash
# One timed run for bench/scheduler/run.sh: PODS pods (gangs of 4 workers, 2 GPUs each) bound
# on the bench cluster's nodes by IMPL (zenith: GangScheduler in gang_bench; kube-scheduler: the
# same pods as plain pods, upstream kube-scheduler started once they exist) with client QPS.
# Prints pods/s (from the scheduler's start until the last pod is seen bound) as its last line
# and appends the scheduler's resident memory (MiB) to $OUT/rss-IMPL-QPS.
# Usage: one.sh zenith|kube-scheduler QPS   (env GB, KS, DIR, PODS, PREFIX, OUT)
set -euo pipefail
impl=$1 qps=$2
export KUBECONFIG=$DIR/kubeconfig
ns="sb-$impl-$RANDOM"
plain=0; [[ $impl == kube-scheduler ]] && plain=1
"$GB" jobs --ns "$ns" --jobs $((PODS / 4)) --min 4 --max 4 --gpus 2 --plain $plain --seed 1 >&2
"$GB" wait-bound --ns "$ns" --count "$PODS" --timeout 600 >"$OUT/wait.$$" &
waiter=$!
sleep 1  # the waiter has listed the pods before any scheduler starts
if [[ $impl == zenith ]]; then
  "$GB" schedule --ns "$ns" --prefix "$PREFIX" --qps "$qps" --burst $((2 * qps)) \
    --expect "$PODS" >"$OUT/sched.$$"
  grep -o 'peak RSS [0-9.]* MiB$' "$OUT/sched.$$" | awk '{print $3}' >>"$OUT/rss-$impl-$qps"
  wait $waiter
else
  "$KS" --kubeconfig="$KUBECONFIG" --leader-elect=false --secure-port=0 \
    --kube-api-qps="$qps" --kube-api-burst=$((2 * qps)) >"$OUT/ks.log" 2>&1 &
  ks=$!
  wait $waiter
  awk '/VmRSS/ {print $2 / 1024}' "/proc/$ks/status" >>"$OUT/rss-$impl-$qps"
  kill "$ks"; wait "$ks" 2>/dev/null || true
fi
kubectl delete pods --all -n "$ns" --grace-period=0 --force --wait=false >/dev/null 2>&1
# Nothing finishes a deletion here (no kubelet), so grace 0 removes the pods at once; wait for it.
for _ in $(seq 600); do
  [[ -z $(kubectl get pods -n "$ns" -o name 2>/dev/null | head -1) ]] && break
  sleep 0.5
done
kubectl delete zenithjobs --all -n "$ns" --wait=false >/dev/null 2>&1 || true
kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true
tail -1 "$OUT/wait.$$"
rm -f "$OUT/wait.$$" "$OUT/sched.$$"
