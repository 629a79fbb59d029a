#!/usr/bin/env bash
# Create / delete fake GPU nodes managed by kwok in a cluster from cluster.sh.
#
# Usage:
#   e2e/nodes.sh create N [--prefix P] [--gpus 8] [--cpu 96] [--memory 1Ti]
#                         [--pods 110] [--label k=v]... [--wait SECONDS]
#   e2e/nodes.sh delete [--prefix P]     (no --prefix: every node made here)
#   e2e/nodes.sh list   [--prefix P]
# Common options: --kubeconfig FILE | --dir CLUSTER_DIR
#
# Nodes are named P-0 .. P-(N-1) (default prefix "gpu-node"), carry the
# annotation kwok.x-k8s.io/node=fake (so the kwok started by
# `cluster.sh up --with-kwok` manages them), no taints, and report capacity
# and allocatable cpu, memory, pods and zenith.ai/gpu. Existing nodes with the
# same name are left untouched. --wait waits until all N are Ready.
set -euo pipefail

log() { echo "[nodes] $*" >&2; }
die() { echo "[nodes] ERROR: $*" >&2; exit 1; }

GPU_RESOURCE="zenith.ai/gpu"
OWNER_LABEL="zenith.ai/e2e-fake-node"
PREFIX_LABEL="zenith.ai/e2e-node-prefix"

VERB="${1:-}"
[[ -n "$VERB" ]] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
if [[ "$VERB" == -h || "$VERB" == --help || "$VERB" == help ]]; then
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
shift
COUNT=""
if [[ "$VERB" == create ]]; then
  COUNT="${1:-}"
  [[ "$COUNT" =~ ^[0-9]+$ ]] || die "create needs a node count, e.g. create 3"
  shift
fi

PREFIX="" GPUS=8 CPU=96 MEMORY=1Ti PODS=110 WAIT=0 KCFG="" CDIR=""
LABELS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) PREFIX="${2:?}"; shift ;;
    --gpus) GPUS="${2:?}"; shift ;;
    --cpu) CPU="${2:?}"; shift ;;
    --memory) MEMORY="${2:?}"; shift ;;
    --pods) PODS="${2:?}"; shift ;;
    --label) [[ "${2:-}" == *=* ]] || die "--label needs k=v"; LABELS+=("$2"); shift ;;
    --wait) WAIT="${2:?}"; shift ;;
    --kubeconfig) KCFG="${2:?}"; shift ;;
    --dir) CDIR="${2:?}"; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option: $1" ;;
  esac
  shift
done

if [[ -z "$KCFG" ]]; then
  if [[ -n "$CDIR" ]]; then
    KCFG="$CDIR/kubeconfig"
  elif [[ -n "${KUBECONFIG:-}" ]]; then
    KCFG="$KUBECONFIG"
  else
    KCFG="${ZENITH_CLUSTER_DIR:-/tmp/zenith-cluster-${USER:-$(id -un)}}/kubeconfig"
  fi
fi
[[ -f "$KCFG" ]] || die "kubeconfig $KCFG not found (is the cluster up? see e2e/cluster.sh)"
kc() { kubectl --kubeconfig="$KCFG" "$@"; }

selector() {
  if [[ -n "$PREFIX" ]]; then echo "$PREFIX_LABEL=$PREFIX"; else echo "$OWNER_LABEL=true"; fi
}

# JSON string escape for label keys/values (they are restricted anyway).
jstr() { local s="${1//\\/\\\\}"; printf '"%s"' "${s//\"/\\\"}"; }

# Emit one kind: List JSON document with nodes [from, to).
manifest() {
  local from="$1" to="$2" i name l extra="" res
  for l in "${LABELS[@]}"; do
    extra+=",$(jstr "${l%%=*}"):$(jstr "${l#*=}")"
  done
  res="\"cpu\":$(jstr "$CPU"),\"memory\":$(jstr "$MEMORY"),\"pods\":$(jstr "$PODS")"
  res+=",\"ephemeral-storage\":\"1Ti\""
  if [[ "$GPUS" != 0 ]]; then res+=",$(jstr "$GPU_RESOURCE"):$(jstr "$GPUS")"; fi
  printf '{"apiVersion":"v1","kind":"List","items":['
  for ((i = from; i < to; i++)); do
    name="$PREFIX-$i"
    ((i == from)) || printf ','
    printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s",' "$name"
    printf '"annotations":{"kwok.x-k8s.io/node":"fake","node.alpha.kubernetes.io/ttl":"0"},'
    printf '"labels":{"type":"kwok","kubernetes.io/hostname":"%s","kubernetes.io/os":"linux",' "$name"
    printf '"kubernetes.io/arch":"amd64","%s":"true","%s":"%s"%s}},' \
      "$OWNER_LABEL" "$PREFIX_LABEL" "$PREFIX" "$extra"
    printf '"spec":{},"status":{"capacity":{%s},"allocatable":{%s}}}' "$res" "$res"
  done
  printf ']}\n'
}

ready_count() {
  kc get nodes -l "$(selector)" \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
    grep -c '^True$' || true
}

cmd_create() {
  [[ -n "$PREFIX" ]] || PREFIX="gpu-node"
  local n="$COUNT" t0 chunk=250 jobs=4 from pids=() errs rc=0 i=0
  t0=$(date +%s.%N)
  ERRS="$(mktemp)"; errs="$ERRS"
  trap 'rm -f "$ERRS" "$ERRS".*' EXIT
  # Several kubectl processes in parallel, each creating one List of nodes.
  for ((from = 0; from < n; from += chunk)); do
    local to=$((from + chunk < n ? from + chunk : n))
    manifest "$from" "$to" | kc create --validate=false -f - -o name >/dev/null 2>"$errs.$i" &
    pids+=($!)
    i=$((i + 1))
    if ((${#pids[@]} >= jobs)); then
      wait "${pids[0]}" || true
      pids=("${pids[@]:1}")
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || true; done
  cat "$errs".* >"$errs" 2>/dev/null || true
  local existing
  existing="$(grep -c 'AlreadyExists\|already exists' "$errs" || true)"
  if grep -v 'AlreadyExists\|already exists' "$errs" | grep -q .; then
    grep -v 'AlreadyExists\|already exists' "$errs" | head -20 >&2
    rc=1
  fi
  ((existing == 0)) || log "$existing node(s) already existed and were left as they are"
  ((rc == 0)) || die "creating nodes failed"
  log "created $((n - existing)) node(s) $PREFIX-0..$PREFIX-$((n - 1)) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"
  if ((WAIT > 0)); then
    local w0 r
    w0=$(date +%s)
    while :; do
      r="$(ready_count)"
      ((r >= n)) && break
      (($(date +%s) - w0 < WAIT)) || die "only $r/$n nodes with prefix $PREFIX Ready after ${WAIT}s (is kwok running? cluster.sh up --with-kwok)"
      sleep 0.5
    done
    log "$r/$n nodes Ready after $(($(date +%s) - w0))s"
  fi
}

cmd_delete() {
  # One DELETE on the collection (kubectl delete -l would send one per node).
  kc delete --raw "/api/v1/nodes?labelSelector=$(selector)" >/dev/null
  log "deleted nodes matching $(selector)"
}

cmd_list() {
  kc get nodes -l "$(selector)" \
    -o custom-columns='NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status,GPU:.status.allocatable.zenith\.ai/gpu,CPU:.status.allocatable.cpu,MEMORY:.status.allocatable.memory'
}

case "$VERB" in
  create) cmd_create ;;
  delete) cmd_delete ;;
  list) cmd_list ;;
  *) die "unknown verb '$VERB' (create|delete|list)" ;;
esac
