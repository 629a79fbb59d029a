#!/usr/bin/env bash
# Local Kubernetes control plane for Zenith e2e tests, built from the pinned
# upstream Go modules in e2e/tools (see e2e/build-tools.sh). No containers,
# no kubelet: etcd + kube-apiserver on loopback, optionally
# kube-controller-manager, kube-scheduler and kwok (fake nodes and pods).
#
# Usage: e2e/cluster.sh [--dir DIR] VERB [options]
#   up      [--with-controller-manager] [--with-scheduler] [--with-kwok]
#           [--all] [--timeout SECONDS]
#   down    stop exactly the recorded processes and remove DIR (idempotent)
#   status  report components and /readyz; non-zero exit when not up
#   env     print "export KUBECONFIG=DIR/kubeconfig" (use with eval)
#   restart-apiserver  stop kube-apiserver and start it again, same flags and port (and
#                      kwok after it, when running)
#
# DIR defaults to ${ZENITH_CLUSTER_DIR:-/tmp/zenith-cluster-$USER}. Several
# clusters can run side by side in different DIRs: every port is picked free
# on 127.0.0.1 at `up` time and recorded in DIR/cluster.env.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
USER_NAME="${USER:-$(id -un 2>/dev/null || echo user)}"
DIR="${ZENITH_CLUSTER_DIR:-/tmp/zenith-cluster-${USER_NAME}}"
MARKER=".zenith-cluster"
# Stop order for `down`; start order is the reverse.
COMPONENTS=(kwok kube-scheduler kube-controller-manager kube-apiserver etcd)
KCM_CONTROLLERS="${ZENITH_KCM_CONTROLLERS:-serviceaccount-token-controller,serviceaccount-controller,namespace-controller,garbage-collector-controller,root-ca-certificate-publisher-controller}"

log() { echo "[cluster] $*" >&2; }
die() { echo "[cluster] ERROR: $*" >&2; exit 1; }
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- processes

pid_of() { # component -> pid (empty when no pid file)
  local f="$DIR/$1.pid"
  if [[ -s "$f" ]]; then cat "$f"; fi
}

# A pid counts as ours only if it is alive and its command line mentions the
# state dir (every component gets a flag pointing into DIR), so a recycled
# pid is never signalled.
is_ours() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  local state
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
  [[ "$state" != Z ]] || return 1
  # Read whole, not piped into grep -q: under pipefail an early grep exit fails the pipeline.
  local cmdline
  cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
  [[ "$cmdline" == *"$DIR/"* ]]
}

running() { is_ours "$(pid_of "$1")"; }

any_running() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if running "$c"; then return 0; fi
  done
  return 1
}

stop_component() {
  local c="$1" pid i
  pid="$(pid_of "$c")"
  if is_ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # 10 s bound
      is_ours "$pid" || break
      sleep 0.1
    done
    if is_ours "$pid"; then
      log "$c (pid $pid) ignored SIGTERM for 10s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        is_ours "$pid" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$DIR/$c.pid"
}

stop_all() {
  local c
  for c in "${COMPONENTS[@]}"; do stop_component "$c"; done
}

# start NAME BINARY ARGS... : background, own session, logs in DIR/NAME.log
start_component() {
  local name="$1"; shift
  setsid "$@" </dev/null >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

# ---------------------------------------------------------------- ports

port_in_use() { # any TCP socket (v4/v6, any state) using local port $1
  local hex
  hex="$(printf '%04X' "$1")"
  awk -v h="$hex" 'FNR > 1 { split($2, a, ":"); if (a[length(a)] == h) { found = 1; exit } }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

declare -A PICKED=()
free_port() { # free_port VAR: sets VAR to an unused loopback port below the ephemeral range
  # Not called as $(free_port): PICKED must persist, or two components could get one port.
  local -n out="$1"
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    [[ -z "${PICKED[$p]:-}" ]] || continue
    if ! port_in_use "$p"; then
      PICKED[$p]=1
      out="$p"
      return 0
    fi
  done
  die "could not find a free port"
}

# ---------------------------------------------------------------- PKI

pki() {
  local d="$DIR/pki"
  mkdir -p "$d"
  local days=3650
  openssl_quiet() { openssl "$@" 2>/dev/null || { openssl "$@"; return 1; }; }

  openssl_quiet ecparam -name prime256v1 -genkey -noout -out "$d/ca.key"
  openssl_quiet req -x509 -new -key "$d/ca.key" -sha256 -days "$days" \
    -subj "/CN=zenith-e2e-ca" -out "$d/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"

  # leaf NAME SUBJECT EKU [SAN]
  leaf() {
    local name="$1" subj="$2" eku="$3" san="${4:-}"
    openssl_quiet ecparam -name prime256v1 -genkey -noout -out "$d/$name.key"
    openssl_quiet req -new -key "$d/$name.key" -subj "$subj" -out "$d/$name.csr"
    {
      echo "basicConstraints=critical,CA:FALSE"
      echo "keyUsage=critical,digitalSignature,keyEncipherment"
      echo "extendedKeyUsage=$eku"
      [[ -z "$san" ]] || echo "subjectAltName=$san"
    } >"$d/$name.ext"
    openssl_quiet x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
      -CAcreateserial -sha256 -days "$days" -extfile "$d/$name.ext" -out "$d/$name.crt"
    rm -f "$d/$name.csr" "$d/$name.ext"
  }

  leaf apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  leaf admin "/O=system:masters/CN=zenith-admin" clientAuth
  leaf kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  leaf kube-scheduler "/CN=system:kube-scheduler" clientAuth
  leaf kwok "/O=system:masters/CN=kwok-controller" clientAuth
  # Service-account token signing key pair (RSA).
  openssl_quiet genrsa -out "$d/sa.key" 2048
  openssl_quiet rsa -in "$d/sa.key" -pubout -out "$d/sa.pub"
  chmod 600 "$d"/*.key
}

kubeconfig() { # kubeconfig FILE USER CERTNAME
  local file="$1" user="$2" cert="$3" d="$DIR/pki"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: zenith-e2e
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: $(base64 -w0 <"$d/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 <"$d/$cert.crt")
    client-key-data: $(base64 -w0 <"$d/$cert.key")
contexts:
- name: zenith-e2e
  context:
    cluster: zenith-e2e
    user: ${user}
current-context: zenith-e2e
EOF
  chmod 600 "$file"
}

readyz() { # -> 0 when the apiserver answers ok on /readyz
  local port
  port="${APISERVER_PORT:-$(sed -n 's/^ZENITH_APISERVER_PORT=//p' "$DIR/cluster.env" 2>/dev/null)}"
  [[ -n "$port" ]] || return 1
  curl -fsS --max-time 3 --cacert "$DIR/pki/ca.crt" \
    --cert "$DIR/pki/admin.crt" --key "$DIR/pki/admin.key" \
    "https://127.0.0.1:${port}/readyz" >/dev/null 2>&1
}

wait_for() { # wait_for SECONDS DESCRIPTION LOGNAME COMMAND...
  local limit="$1" what="$2" logname="$3" t0
  shift 3
  t0=$(date +%s)
  until "$@"; do
    if [[ -n "$logname" ]] && ! running "$logname"; then
      # A child between fork and exec does not look like ours yet: look twice.
      sleep 0.5
      running "$logname" || fail_up "$logname exited while waiting for $what" "$logname"
    fi
    if (($(date +%s) - t0 >= limit)); then
      fail_up "timed out after ${limit}s waiting for $what" "$logname"
    fi
    sleep 0.2
  done
}

fail_up() { # stop everything, keep DIR (logs) for inspection
  local msg="$1" logname="${2:-}"
  echo "[cluster] ERROR: $msg" >&2
  if [[ -n "$logname" && -f "$DIR/$logname.log" ]]; then
    echo "[cluster] ---- last 40 lines of $DIR/$logname.log ----" >&2
    tail -n 40 "$DIR/$logname.log" >&2
    echo "[cluster] ----" >&2
  fi
  stop_all
  echo "[cluster] processes stopped; logs kept in $DIR (remove with: $0 --dir $DIR down)" >&2
  exit 1
}

# ---------------------------------------------------------------- verbs

cmd_up() {
  local with_kcm=0 with_sched=0 with_kwok=0 timeout=60
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --with-controller-manager) with_kcm=1 ;;
      --with-scheduler) with_sched=1 ;;
      --with-kwok) with_kwok=1 ;;
      --all) with_kcm=1 with_sched=1 with_kwok=1 ;;
      --timeout) timeout="${2:?--timeout needs a value}"; shift ;;
      *) die "unknown option for up: $1" ;;
    esac
    shift
  done
  local c
  for c in openssl curl setsid base64 flock; do
    command -v "$c" >/dev/null || die "'$c' is required but not in PATH"
  done

  if [[ -e "$DIR/$MARKER" ]]; then
    if any_running; then
      die "a cluster is already up in $DIR (run: $0 --dir $DIR down)"
    fi
    die "stale cluster state in $DIR (nothing running); run: $0 --dir $DIR down"
  fi
  if [[ -e "$DIR" && -n "$(ls -A "$DIR" 2>/dev/null)" ]]; then
    die "$DIR exists and is not empty and is not a zenith cluster dir; refusing to use it"
  fi

  local tools=(etcd kube-apiserver)
  ((with_kcm)) && tools+=(kube-controller-manager)
  ((with_sched)) && tools+=(kube-scheduler)
  ((with_kwok)) && tools+=(kwok)
  local paths
  paths="$("$E2E_DIR/build-tools.sh" "${tools[@]}")" || die "build-tools.sh failed"
  local -A BIN=()
  local i=0 p
  while IFS= read -r p; do BIN[${tools[$i]}]="$p"; i=$((i + 1)); done <<<"$paths"

  local t0
  t0="$(now)"
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  touch "$DIR/$MARKER"
  pki

  free_port ETCD_CLIENT_PORT
  free_port ETCD_PEER_PORT
  free_port APISERVER_PORT
  local kcm_port="" sched_port="" kwok_port=""
  if ((with_kcm)); then free_port kcm_port; fi
  if ((with_sched)); then free_port sched_port; fi
  if ((with_kwok)); then free_port kwok_port; fi
  cat >"$DIR/cluster.env" <<EOF
ZENITH_CLUSTER_DIR=$DIR
ZENITH_APISERVER_PORT=$APISERVER_PORT
ZENITH_APISERVER_URL=https://127.0.0.1:$APISERVER_PORT
ZENITH_ETCD_CLIENT_PORT=$ETCD_CLIENT_PORT
ZENITH_ETCD_PEER_PORT=$ETCD_PEER_PORT
ZENITH_KCM_PORT=$kcm_port
ZENITH_SCHEDULER_PORT=$sched_port
ZENITH_KWOK_PORT=$kwok_port
KUBECONFIG=$DIR/kubeconfig
EOF

  # etcd: single member, data inside DIR. fsync is skipped: this is a
  # throw-away test store and it makes bulk object creation much faster.
  start_component etcd "${BIN[etcd]}" \
    --name=zenith-e2e \
    --data-dir="$DIR/etcd-data" \
    --listen-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="zenith-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state=new \
    --unsafe-no-fsync=true \
    --quota-backend-bytes=$((4 * 1024 * 1024 * 1024)) \
    --log-level=warn
  wait_for "$timeout" "etcd health" etcd \
    curl -fs --max-time 2 -o /dev/null "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

  local d="$DIR/pki"
  start_component kube-apiserver "${BIN[kube-apiserver]}" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --endpoint-reconciler-type=none \
    --secure-port="$APISERVER_PORT" \
    --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --tls-cert-file="$d/apiserver.crt" \
    --tls-private-key-file="$d/apiserver.key" \
    --client-ca-file="$d/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$d/sa.pub" \
    --service-account-signing-key-file="$d/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 \
    --authorization-mode=Node,RBAC \
    --disable-admission-plugins=TaintNodesByCondition \
    --delete-collection-workers=8 \
    --allow-privileged=true \
    --profiling=false \
    --cert-dir="$DIR/apiserver-certs" \
    --v="${ZENITH_APISERVER_V:-1}"
  kubeconfig "$DIR/kubeconfig" zenith-admin admin
  wait_for "$timeout" "kube-apiserver /readyz" kube-apiserver readyz

  if ((with_kcm)); then
    kubeconfig "$DIR/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager
    start_component kube-controller-manager "${BIN[kube-controller-manager]}" \
      --kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
      --authentication-kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
      --authorization-kubeconfig="$DIR/kube-controller-manager.kubeconfig" \
      --bind-address=127.0.0.1 \
      --secure-port="$kcm_port" \
      --cert-dir="$DIR/kcm-certs" \
      --controllers="$KCM_CONTROLLERS" \
      --use-service-account-credentials=true \
      --service-account-private-key-file="$d/sa.key" \
      --root-ca-file="$d/ca.crt" \
      --cluster-signing-cert-file="$d/ca.crt" \
      --cluster-signing-key-file="$d/ca.key" \
      --leader-elect=false \
      --v=1
  fi
  if ((with_sched)); then
    kubeconfig "$DIR/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
    start_component kube-scheduler "${BIN[kube-scheduler]}" \
      --kubeconfig="$DIR/kube-scheduler.kubeconfig" \
      --authentication-kubeconfig="$DIR/kube-scheduler.kubeconfig" \
      --authorization-kubeconfig="$DIR/kube-scheduler.kubeconfig" \
      --bind-address=127.0.0.1 \
      --secure-port="$sched_port" \
      --cert-dir="$DIR/scheduler-certs" \
      --leader-elect=false \
      --v=1
  fi
  if ((with_kwok)); then
    kubeconfig "$DIR/kwok.kubeconfig" kwok-controller kwok
    local stages f
    stages="$(dirname "${BIN[kwok]}")/stages"
    : >"$DIR/kwok.yaml"
    # kwok's defaults, then Zenith's own (e2e/stages: ZenithJob workers finish or fail).
    for f in "$stages"/*.yaml "$E2E_DIR"/stages/*.yaml; do
      [[ -f "$f" ]] || continue
      { echo "---"; cat "$f"; } >>"$DIR/kwok.yaml"
    done
    start_component kwok "${BIN[kwok]}" \
      --config="$DIR/kwok.yaml" \
      --kubeconfig="$DIR/kwok.kubeconfig" \
      --manage-all-nodes=false \
      --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
      --node-lease-duration-seconds=40 \
      --cidr=10.244.0.0/16 \
      --node-ip=10.0.0.1 \
      --server-address="127.0.0.1:$kwok_port"
  fi
  # Give optional components a moment to fail fast on bad flags.
  local extra
  for extra in kube-controller-manager kube-scheduler kwok; do
    [[ -s "$DIR/$extra.pid" ]] || continue
    wait_for 30 "$extra health" "$extra" component_healthy "$extra" "$kcm_port" "$sched_port" "$kwok_port"
  done

  log "cluster up in $(elapsed "$t0")s (dir $DIR, apiserver https://127.0.0.1:$APISERVER_PORT)"
  log "use it with: eval \"\$($0 --dir $DIR env)\""
}

component_healthy() { # NAME KCM_PORT SCHED_PORT KWOK_PORT
  case "$1" in
    kube-controller-manager) curl -fsk --max-time 2 -o /dev/null "https://127.0.0.1:$2/healthz" ;;
    kube-scheduler) curl -fsk --max-time 2 -o /dev/null "https://127.0.0.1:$3/healthz" ;;
    kwok) curl -fs --max-time 2 -o /dev/null "http://127.0.0.1:$4/healthz" ;;
  esac
}

cmd_down() {
  [[ $# -eq 0 ]] || die "down takes no options"
  if [[ ! -e "$DIR" ]]; then
    log "nothing to do: $DIR does not exist"
    return 0
  fi
  if [[ ! -e "$DIR/$MARKER" ]]; then
    [[ -n "$(ls -A "$DIR" 2>/dev/null)" ]] || { log "nothing to do: $DIR holds no cluster"; return 0; }
    die "$DIR is not a zenith cluster dir (no $MARKER); not touching it"
  fi
  DIR="$(cd "$DIR" && pwd)"
  stop_all
  rm -rf "$DIR"
  log "cluster in $DIR is down"
}

cmd_status() {
  [[ $# -eq 0 ]] || die "status takes no options"
  if [[ ! -e "$DIR/$MARKER" ]]; then
    echo "no cluster in $DIR"
    return 1
  fi
  DIR="$(cd "$DIR" && pwd)"
  local ok=0 c pid
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
    pid="$(pid_of "$c")"
    if [[ -z "$pid" ]]; then
      continue
    elif is_ours "$pid"; then
      printf '%-24s running (pid %s)\n' "$c" "$pid"
    else
      printf '%-24s NOT running (pid %s, see %s)\n' "$c" "$pid" "$DIR/$c.log"
      ok=1
    fi
  done
  if readyz; then
    printf '%-24s ok (%s)\n' "/readyz" "$(sed -n 's/^ZENITH_APISERVER_URL=//p' "$DIR/cluster.env")"
  else
    printf '%-24s FAILING\n' "/readyz"
    ok=1
  fi
  return "$ok"
}

cmd_restart_apiserver() {
  [[ $# -eq 0 ]] || die "restart-apiserver takes no options"
  [[ -e "$DIR/$MARKER" ]] || die "no cluster in $DIR"
  DIR="$(cd "$DIR" && pwd)"
  local pid t0
  pid="$(pid_of kube-apiserver)"
  is_ours "$pid" || die "kube-apiserver is not running in $DIR"
  # The running process's own argv is the exact command to start again.
  local -a cmd
  mapfile -d '' -t cmd <"/proc/$pid/cmdline"
  t0=$(now)
  stop_component kube-apiserver
  start_component kube-apiserver "${cmd[@]}"
  wait_for 60 "kube-apiserver /readyz" kube-apiserver readyz
  # kwok's clients back off while the API server is away (client-go waits up to 30 s between
  # tries), so the simulated kubelets could sit idle well after it is back, while the next test
  # waits on them: restart kwok too, with fresh connections.
  pid="$(pid_of kwok)"
  if is_ours "$pid"; then
    local kwok_port
    kwok_port="$(sed -n 's/^ZENITH_KWOK_PORT=//p' "$DIR/cluster.env")"
    mapfile -d '' -t cmd <"/proc/$pid/cmdline"
    stop_component kwok
    start_component kwok "${cmd[@]}"
    wait_for 30 "kwok health" kwok component_healthy kwok "" "" "$kwok_port"
  fi
  log "kube-apiserver restarted in $(elapsed "$t0")s"
}

cmd_env() {
  [[ $# -eq 0 ]] || die "env takes no options"
  [[ -f "$DIR/kubeconfig" ]] || die "no cluster in $DIR (no kubeconfig)"
  DIR="$(cd "$DIR" && pwd)"
  printf 'export KUBECONFIG=%q\n' "$DIR/kubeconfig"
  printf 'export ZENITH_CLUSTER_DIR=%q\n' "$DIR"
}

# ---------------------------------------------------------------- main

VERB=""
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="${2:?--dir needs a value}"; shift ;;
    --dir=*) DIR="${1#--dir=}" ;;
    -h|--help|help) usage; exit 0 ;;
    *)
      if [[ -z "$VERB" ]]; then VERB="$1"; else ARGS+=("$1"); fi ;;
  esac
  shift
done
[[ -n "$DIR" && "$DIR" != / ]] || die "invalid cluster dir '$DIR'"
# Remove trailing slashes so the cmdline ownership check is exact.
DIR="${DIR%/}"

case "$VERB" in
  up) cmd_up "${ARGS[@]}" ;;
  down) cmd_down "${ARGS[@]}" ;;
  status) cmd_status "${ARGS[@]}" ;;
  env) cmd_env "${ARGS[@]}" ;;
  restart-apiserver) cmd_restart_apiserver "${ARGS[@]}" ;;
  "") usage >&2; exit 2 ;;
  *) die "unknown verb '$VERB' (up|down|status|env|restart-apiserver)" ;;
esac
