#!/usr/bin/env bash
# CTest fixture for the integration tests (label kube): brings a local control plane up in DIR
# with kwok (removing a stale one first) or takes it down. Usage: cluster_fixture.sh up|down DIR
set -euo pipefail
verb="$1" dir="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cluster="$root/e2e/cluster.sh"
[[ -x "$cluster" ]] || { echo "kube fixture: $cluster not found" >&2; exit 1; }
case "$verb" in
  up)
    if [[ -e "$dir" ]]; then "$cluster" --dir "$dir" down || rm -rf "$dir"; fi
    # kwok runs the simulated GPU nodes (e2e/nodes.sh) that the operator's tests place on.
    exec "$cluster" --dir "$dir" up --with-kwok --timeout 90 ;;
  down) exec "$cluster" --dir "$dir" down ;;
  *) echo "usage: $0 up|down DIR" >&2; exit 2 ;;
esac
