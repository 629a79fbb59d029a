#!/usr/bin/env bash
# End-to-end smoke test of the local control plane: cluster up (with kwok) in
# a temporary dir, /readyz, 3 fake GPU nodes become Ready, a pod bound with
# spec.nodeName becomes Running, a token of a ServiceAccount without any RBAC
# rights authenticates but is Forbidden; always tears the cluster down.
#
# Usage: e2e/smoke.sh            (exit 0 on success, non-zero with a message)
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/zenith-smoke.XXXXXX")"
DIR="$TMP/cluster"
STEP="setup"
T0=$(date +%s)

log() { echo "[smoke] $*" >&2; }
fail() { echo "[smoke] FAIL ($STEP): $*" >&2; exit 1; }

cleanup() {
  local rc=$?
  if ((rc != 0)) && [[ -d "$DIR" ]]; then
    echo "[smoke] ---- diagnostics (step: $STEP) ----" >&2
    "$E2E_DIR/cluster.sh" --dir "$DIR" status >&2 || true
    local f
    for f in "$DIR"/*.log; do
      [[ -f "$f" ]] || continue
      echo "[smoke] ---- tail of $f ----" >&2
      tail -n 15 "$f" >&2
    done
  fi
  "$E2E_DIR/cluster.sh" --dir "$DIR" down >/dev/null 2>&1 || log "WARNING: cluster down failed for $DIR"
  rm -rf "$TMP"
  if ((rc == 0)); then
    log "PASS in $(($(date +%s) - T0))s"
  else
    log "FAILED (exit $rc)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v kubectl >/dev/null || fail "kubectl not found in PATH"

STEP="cluster up"
"$E2E_DIR/cluster.sh" --dir "$DIR" up --with-kwok || fail "cluster.sh up failed"
eval "$("$E2E_DIR/cluster.sh" --dir "$DIR" env)"
# shellcheck disable=SC1091
source "$DIR/cluster.env"
kc() { kubectl --request-timeout=20s "$@"; }

STEP="readyz"
[[ "$(kc get --raw /readyz)" == ok ]] || fail "/readyz did not return ok"
log "/readyz ok"

STEP="status"
"$E2E_DIR/cluster.sh" --dir "$DIR" status >/dev/null || fail "cluster.sh status reported a problem"

STEP="nodes"
"$E2E_DIR/nodes.sh" create 3 --prefix smoke --gpus 8 --label zenith.ai/pool=smoke --wait 60 ||
  fail "3 kwok nodes did not become Ready"
gpu="$(kc get node smoke-0 -o jsonpath='{.status.allocatable.zenith\.ai/gpu}')"
[[ "$gpu" == 8 ]] || fail "node smoke-0 allocatable zenith.ai/gpu is '$gpu', want 8"
pool="$(kc get node smoke-2 -o jsonpath='{.metadata.labels.zenith\.ai/pool}')"
[[ "$pool" == smoke ]] || fail "node smoke-2 label zenith.ai/pool is '$pool', want smoke"
log "3 nodes Ready with zenith.ai/gpu=8"

STEP="pod"
# Without kube-controller-manager nobody creates the 'default' ServiceAccount,
# which the ServiceAccount admission plugin requires for pods.
kc get serviceaccount default >/dev/null 2>&1 || kc create serviceaccount default >/dev/null
kc apply -f - >/dev/null <<'EOF' || fail "creating pod failed"
apiVersion: v1
kind: Pod
metadata:
  name: smoke-pod
  namespace: default
spec:
  nodeName: smoke-1
  automountServiceAccountToken: false
  containers:
  - name: main
    image: zenith-e2e/fake:latest
    resources:
      limits:
        zenith.ai/gpu: "2"
EOF
phase=""
for _ in $(seq 1 120); do
  phase="$(kc get pod smoke-pod -o jsonpath='{.status.phase}')"
  [[ "$phase" == Running ]] && break
  sleep 0.5
done
[[ "$phase" == Running ]] || fail "pod smoke-pod phase is '$phase' after 60s, want Running"
ready="$(kc get pod smoke-pod -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"
[[ "$ready" == True ]] || fail "pod smoke-pod Ready condition is '$ready', want True"
log "pod on smoke-1 is Running"

STEP="serviceaccount token"
kc create serviceaccount smoke-noperm >/dev/null || fail "creating ServiceAccount failed"
token="$(kc create token smoke-noperm --duration=10m)" || fail "kubectl create token failed"
[[ -n "$token" ]] || fail "empty token"
# Talk to the apiserver with only the token (no client certificate).
as_sa() {
  kubectl --kubeconfig=/dev/null --request-timeout=20s \
    --server="$ZENITH_APISERVER_URL" --certificate-authority="$DIR/pki/ca.crt" \
    --token="$token" "$@"
}
who="$(as_sa auth whoami -o jsonpath='{.status.userInfo.username}' 2>&1)" ||
  fail "token was not accepted by the apiserver: $who"
[[ "$who" == system:serviceaccount:default:smoke-noperm ]] ||
  fail "token authenticated as '$who', want system:serviceaccount:default:smoke-noperm"
if out="$(as_sa get pods -n default 2>&1)"; then
  fail "listing pods with a token without rights succeeded, want Forbidden"
fi
grep -q 'Forbidden\|forbidden' <<<"$out" || fail "want Forbidden, got: $out"
grep -q 'system:serviceaccount:default:smoke-noperm' <<<"$out" ||
  fail "Forbidden message does not name the ServiceAccount: $out"
log "token for smoke-noperm authenticates and is Forbidden to list pods"

STEP="cluster down"
"$E2E_DIR/cluster.sh" --dir "$DIR" down || fail "cluster.sh down failed"
[[ ! -e "$DIR" ]] || fail "state dir $DIR still exists after down"
STEP="done"
