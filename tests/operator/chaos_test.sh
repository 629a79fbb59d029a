#!/usr/bin/env bash
# Chaos: while 50 ZenithJobs run on kwok GPU nodes, the operator is killed with SIGKILL at random
# moments and started again, several times. Afterwards every job must be at the phase its
# simulated workload decides (Succeeded, Succeeded after one retry, or Failed with its retries
# used up), jobs deleted meanwhile must be gone with their pods, and no worker pod may be
# duplicated (more than the job's replicas, or two gang attempts at once) or orphaned (no job,
# or a job with another uid).
#   ZENITH_KUBE_CLUSTER_DIR=... ZENITH_OPERATOR=... [ZENITH_CHAOS_SEED=N] tests/operator/chaos_test.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${ZENITH_KUBE_CLUSTER_DIR:?set ZENITH_KUBE_CLUSTER_DIR to a cluster from e2e/cluster.sh}"
op="${ZENITH_OPERATOR:?set ZENITH_OPERATOR to the zenith-operator binary}"
seed="${ZENITH_CHAOS_SEED:-$$}"
RANDOM=$seed
export KUBECONFIG="$dir/kubeconfig"
ns="zop-chaos-$$"
logdir="${ZENITH_TEST_LOG_DIR:-/tmp}"
JOBS=50 KILLS=${ZENITH_CHAOS_KILLS:-8}
pid=""
log() { echo "[chaos] $*"; }
fail() { echo "[chaos] FAIL: $*"; exit 1; }

cleanup() {
  if [[ -n "$pid" ]]; then { kill -KILL "$pid" && wait "$pid"; } 2>/dev/null || true; fi
  "$root/e2e/nodes.sh" delete --prefix "$ns" >/dev/null 2>&1 || true
}
trap cleanup EXIT

start_operator() { # ID
  "$op" --kubeconfig="$KUBECONFIG" --namespace="$ns" --leader-election.namespace="$ns" \
    --leader-election.lease-duration=2s --workers=4 --metrics.address=127.0.0.1 \
    --metrics.port=0 --identity="$1" >>"$logdir/$ns-operator.log" 2>&1 &
  pid=$!
}
# Waits until operator ID holds the Lease (a killed leader's lease must run out first), so
# every kill lands while an operator is actually working.
wait_leading() { # ID
  local t0=$SECONDS
  until [[ "$(kubectl -n "$ns" get lease zenith-operator -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" == "$1" ]]; do
    ((SECONDS - t0 < 30)) || fail "operator $1 did not take the Lease within 30 s"
    sleep 0.2
  done
}

log "seed $seed, namespace $ns, operator log $logdir/$ns-operator.log"
kubectl apply -f "$root/crds/zenith.ai_zenithjobs.yaml" >/dev/null
kubectl wait --for=condition=Established crd/zenithjobs.zenith.ai --timeout=60s >/dev/null
kubectl create namespace "$ns" >/dev/null
kubectl -n "$ns" create serviceaccount default >/dev/null
"$root/e2e/nodes.sh" create 25 --gpus 8 --prefix "$ns" --wait 60 >/dev/null

# kind of job i: 0-4 fail for good (maxRetries 1), 5-9 fail once then succeed, 10-14 are
# deleted while running, the rest succeed after 2-8 s.
want_of() { # job index -> the phase it must end in
  if (($1 < 5)); then echo Failed; elif (($1 < 10)); then echo Succeeded;
  elif (($1 < 15)); then echo Deleted; else echo Succeeded; fi
}
declare -A want
for ((i = 0; i < JOBS; i++)); do want[job-$i]="$(want_of "$i")"; done
manifest() {
  local i=$1 name="job-$1" ann="" policy="    backoffSeconds: 1"
  local dur=$((2 + RANDOM % 7))s
  if ((i < 5)); then
    ann="    zenith.ai/simulate-failure-rank: \"1\""; policy+=$'\n'"    maxRetries: 1"
  elif ((i < 10)); then
    ann="    zenith.ai/simulate-failure-rank: \"0\""$'\n'"    zenith.ai/simulate-failure-attempts: \"1\""
  elif ((i < 15)); then
    dur=1h
  fi
  cat <<YAML
---
apiVersion: zenith.ai/v1alpha1
kind: ZenithJob
metadata:
  name: $name
  annotations:
    zenith.ai/simulate-duration: "$dur"
${ann}
spec:
  replicas: 2
  gpusPerReplica: $((1 + RANDOM % 4))
  runPolicy:
$policy
  template:
    spec:
      nodeSelector: {zenith.ai/e2e-node-prefix: $ns}
      containers: [{name: trainer, image: busybox:1.36}]
YAML
}
{ for ((i = 0; i < JOBS; i++)); do manifest "$i"; done; } >"$logdir/$ns-jobs.yaml"
start_operator chaos-0
wait_leading chaos-0
# Created while the kills begin, so some land in the middle of the first wave of pods.
kubectl -n "$ns" create -f "$logdir/$ns-jobs.yaml" >/dev/null &
creator=$!

for ((k = 1; k <= KILLS; k++)); do
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 2000) / 1000 }')"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  log "kill $k/$KILLS: operator SIGKILLed; phases: $(kubectl -n "$ns" get zj \
    -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' 2>/dev/null |
    sed 's/^$/(new)/' | sort | uniq -c | tr -s ' \n' ' ')"
  if ((k == 2)); then
    kubectl -n "$ns" delete zj job-10 job-11 job-12 job-13 job-14 --wait=false >/dev/null
    log "deleted job-10..job-14 while no operator runs"
  fi
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", (r % 1500) / 1000 }')"
  start_operator "chaos-$k"
  wait_leading "chaos-$k"
done
wait "$creator" || fail "creating the jobs failed"

log "operator left running; waiting for every job to finish"
deadline=$((SECONDS + 240))
while :; do
  remaining=$(kubectl -n "$ns" get zj -o jsonpath='{range .items[*]}{.status.phase}{"\n"}{end}' |
    grep -cvE '^(Succeeded|Failed)$' || true)
  ((remaining == 0)) && break
  ((SECONDS < deadline)) || { tail -30 "$logdir/$ns-operator.log"; fail "$remaining jobs not finished after 240 s"; }
  sleep 1
done

errors=0
check() { if ! eval "$1"; then echo "[chaos] FAIL: $2"; errors=$((errors + 1)); fi; }
kubectl -n "$ns" get zj -o json >"$logdir/$ns-jobs.json"
kubectl -n "$ns" get pods -o json >"$logdir/$ns-pods.json"
report="$(python3 - "$logdir/$ns-jobs.json" "$logdir/$ns-pods.json" <<'PY'
import json, sys, collections
jobs = {j["metadata"]["name"]: j for j in json.load(open(sys.argv[1]))["items"]}
pods = json.load(open(sys.argv[2]))["items"]
by_job = collections.defaultdict(list)
for p in pods:
    job = p["metadata"].get("labels", {}).get("zenith.ai/job")
    owner = [o["uid"] for o in p["metadata"].get("ownerReferences", [])]
    j = jobs.get(job)
    if j is None or j["metadata"]["uid"] not in owner:
        print("ORPHAN %s (job %s)" % (p["metadata"]["name"], job))
        continue
    by_job[job].append(p)
for name, j in sorted(jobs.items()):
    st = j.get("status", {})
    ps = by_job[name]
    attempts = {p["metadata"]["labels"].get("zenith.ai/attempt") for p in ps}
    if len(ps) > j["spec"]["replicas"] or len(attempts) > 1:
        print("DUPLICATE %s: %d pods, attempts %s" % (name, len(ps), sorted(attempts)))
    print("JOB %s %s %s" % (name, st.get("phase"), st.get("retries", 0)))
PY
)"
while read -r kind name phase retries; do
  case "$kind" in
    ORPHAN|DUPLICATE) echo "[chaos] FAIL: $kind $name $phase $retries"; errors=$((errors + 1)) ;;
    JOB)
      w="${want[$name]}"
      if [[ "$w" == Deleted ]]; then
        echo "[chaos] FAIL: $name was deleted but still exists ($phase)"; errors=$((errors + 1))
      elif [[ "$phase" != "$w" ]]; then
        echo "[chaos] FAIL: $name is $phase, want $w"; errors=$((errors + 1))
      elif [[ "$name" =~ ^job-[0-4]$ && "$retries" != 1 ]]; then
        echo "[chaos] FAIL: $name failed after $retries retries, want 1"; errors=$((errors + 1))
      elif [[ "$name" =~ ^job-[5-9]$ && "$retries" != 1 ]]; then
        echo "[chaos] FAIL: $name succeeded after $retries retries, want 1"; errors=$((errors + 1))
      fi ;;
  esac
done <<<"$report"
for i in 10 11 12 13 14; do
  n=$(kubectl -n "$ns" get pods -l zenith.ai/job=job-$i -o name | wc -l)
  ((n == 0)) || { echo "[chaos] FAIL: deleted job-$i still has $n pods"; errors=$((errors + 1)); }
  kubectl -n "$ns" get service job-$i >/dev/null 2>&1 &&
    { echo "[chaos] FAIL: deleted job-$i still has its Service"; errors=$((errors + 1)); }
done
phases="$(grep '^JOB' <<<"$report" | awk '{print $3}' | sort | uniq -c | tr '\n' ' ')"
((errors == 0)) || fail "$errors problems (seed $seed); phases: $phases"
log "PASS: $KILLS kills; $(grep -c '^JOB' <<<"$report") jobs at the right phase ($phases), 5 deleted jobs gone, no duplicate or orphaned pod"
