#!/usr/bin/env bash
# Build the pinned e2e tool binaries (Kubernetes control plane, etcd, kwok,
# helm, and Zenith's kubelet-peer for the device plugin's conformance test)
# from the Go modules under e2e/tools/ into a cache outside the repo:
#
#   ${ZENITH_CACHE:-$HOME/.cache/zenith}/bin/<tool>-<version>/<tool>
#
# Usage: e2e/build-tools.sh [--list] [TOOL...]
#   With no TOOL, builds all of them. For every requested tool the absolute
#   path of the binary is printed on stdout, one per line, in the order asked.
#   Progress and timings go to stderr. A binary already in the cache is not
#   rebuilt, so a warm run takes well under a second.
#   --list prints "tool version module-dir package" for every known tool.
set -euo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TOOLS_DIR="${E2E_DIR}/tools"
CACHE="${ZENITH_CACHE:-${HOME:-/root}/.cache/zenith}"

ALL_TOOLS=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok helm kubelet-peer)

log() { echo "[build-tools] $*" >&2; }
die() { echo "[build-tools] ERROR: $*" >&2; exit 1; }

# tool -> "module-dir|main-module|package"
spec() {
  case "$1" in
    kube-apiserver|kube-controller-manager|kube-scheduler)
      echo "kube|k8s.io/kubernetes|k8s.io/kubernetes/cmd/$1" ;;
    etcd) echo "etcd|go.etcd.io/etcd/server/v3|go.etcd.io/etcd/server/v3" ;;
    kwok) echo "kwok|sigs.k8s.io/kwok|sigs.k8s.io/kwok/cmd/kwok" ;;
    helm) echo "helm|helm.sh/helm/v3|helm.sh/helm/v3/cmd/helm" ;;
    kubelet-peer) echo "kubelet-peer|zenith.local/e2e/tools/kubelet-peer|." ;;
    *) return 1 ;;
  esac
}

# Version of a required module, read from the go.mod (no network needed). Zenith's own tool
# (the module itself) is versioned by a hash of its sources, so an edit rebuilds it.
mod_version() {
  local gomod="$1" mod="$2" v
  if [[ "$mod" == zenith.local/* ]]; then
    v="$(cd "$(dirname "$gomod")" && cat go.mod go.sum ./*.go | sha256sum | cut -c1-12)"
    echo "src-$v"
    return 0
  fi
  v="$(awk -v m="$mod" '
      $1 == "require" && $2 == m { print $3; exit }
      $1 == m && $2 ~ /^v/ { print $2; exit }' "$gomod")"
  [[ -n "$v" ]] || die "cannot find version of $mod in $gomod"
  echo "$v"
}

ldflags_for() {
  local tool="$1" v="$2" ld="-s -w"
  case "$tool" in
    kube-*)
      local maj min
      maj="${v#v}"; maj="${maj%%.*}"
      min="${v#v*.}"; min="${min%%.*}"
      local pkg
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X ${pkg}.gitVersion=${v} -X ${pkg}.gitMajor=${maj} -X ${pkg}.gitMinor=${min}"
        ld+=" -X ${pkg}.gitTreeState=clean"
      done ;;
    kwok) ld+=" -X sigs.k8s.io/kwok/pkg/consts.Version=${v#v}" ;;
    helm) ld+=" -X helm.sh/helm/v3/internal/version.version=${v}" ;;
  esac
  echo "$ld"
}

# The kwok binary has no built-in Stages (kwokctl normally injects them). Its
# default Stage manifests ship inside the pinned kwok module; copy them next to
# the cached binary so cluster.sh can hand them to kwok via --config.
KWOK_STAGES=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
)
extras_ok() {
  [[ "$1" != kwok ]] || [[ -s "$2/stages/.complete" ]]
}
install_extras() {
  local tool="$1" moddir="$2" mod="$3" dest="$4" src f
  [[ "$tool" == kwok ]] || return 0
  src="$(cd "$moddir" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' "$mod")"
  [[ -d "$src/kustomize/stage" ]] || die "kwok stage manifests not found under $src"
  rm -rf "$dest/stages" && mkdir -p "$dest/stages"
  for f in "${KWOK_STAGES[@]}"; do
    cp "$src/kustomize/stage/$f" "$dest/stages/$(basename "$f")"
  done
  chmod -R u+w "$dest/stages"
  printf '%s\n' "${KWOK_STAGES[@]}" >"$dest/stages/.complete"
}

build_one() {
  local tool="$1" s moddir mod pkg version dest out lock start end
  s="$(spec "$tool")" || die "unknown tool '$tool' (known: ${ALL_TOOLS[*]})"
  IFS='|' read -r moddir mod pkg <<<"$s"
  moddir="${TOOLS_DIR}/${moddir}"
  version="$(mod_version "${moddir}/go.mod" "$mod")"
  dest="${CACHE}/bin/${tool}-${version}"
  out="${dest}/${tool}"
  if [[ -x "$out" ]] && extras_ok "$tool" "$dest"; then
    echo "$out"
    return 0
  fi
  mkdir -p "$dest"
  lock="${dest}/.lock"
  # Serialise concurrent builders of the same tool (e.g. two `cluster.sh up`).
  exec 9>"$lock"
  flock 9
  if [[ ! -x "$out" ]]; then
    log "building ${tool} ${version} (${pkg}) ..."
    start=$(date +%s)
    local tmp="${dest}/.${tool}.tmp.$$"
    (
      cd "$moddir"
      CGO_ENABLED="${CGO_ENABLED:-0}" GOFLAGS="${GOFLAGS:-} -p=2 -buildvcs=false" \
        go build -trimpath -ldflags="$(ldflags_for "$tool" "$version")" -o "$tmp" "$pkg"
    ) || { rm -f "$tmp"; flock -u 9; die "go build of ${tool} ${version} failed"; }
    mv -f "$tmp" "$out"
    end=$(date +%s)
    log "built ${tool} ${version} in $((end - start))s ($(du -h "$out" | cut -f1))"
    echo "$(date -u +%FT%TZ) ${tool} ${version} cold-build $((end - start))s go=$(go env GOVERSION)" \
      >>"${CACHE}/build-times.log"
  fi
  extras_ok "$tool" "$dest" || install_extras "$tool" "$moddir" "$mod" "$dest"
  flock -u 9
  exec 9>&-
  echo "$out"
}

if [[ "${1:-}" == "--list" ]]; then
  for t in "${ALL_TOOLS[@]}"; do
    IFS='|' read -r moddir mod pkg <<<"$(spec "$t")"
    echo "$t $(mod_version "${TOOLS_DIR}/${moddir}/go.mod" "$mod") e2e/tools/${moddir} ${pkg}"
  done
  exit 0
fi
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

command -v go >/dev/null || die "go not found in PATH"
command -v flock >/dev/null || die "flock (util-linux) not found in PATH"
mkdir -p "${CACHE}/bin"

if [[ $# -eq 0 ]]; then set -- "${ALL_TOOLS[@]}"; fi
for t in "$@"; do
  build_one "$t"
done
