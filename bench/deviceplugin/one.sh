#!/usr/bin/env bash
# One timed run for bench/deviceplugin/run.sh: kubelet-peer (the kubelet side, upstream
# k8s.io/kubelet package) starts a plugin in a fresh device-plugins dir, waits for Register,
# times GetPreferredAllocation and Allocate over the unix socket and prints METRIC (µs) last.
# usage: one.sh zenith|floor METRIC   (env: PEER, PLUGIN, FIXTURE, ITERS)
set -euo pipefail
side=$1 metric=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/zdpb.XXXXXX")
trap 'rm -rf "$dir"' EXIT
case $side in
  zenith) plugin=("$PLUGIN" --backend=fixture --fixture="$FIXTURE" --kubelet-dir="$dir"
                  --rdma-resource-name= --metrics.address=127.0.0.1 --metrics.port=0
                  --log.level=warn) ;;
  floor) plugin=("$PEER" floor-plugin --dir "$dir" --fixture "$FIXTURE") ;;
  *) echo "usage: one.sh zenith|floor METRIC" >&2; exit 2 ;;
esac
"$PEER" bench --dir "$dir" --fixture "$FIXTURE" --iters "${ITERS:-2000}" --metric "$metric" \
  -- "${plugin[@]}"
