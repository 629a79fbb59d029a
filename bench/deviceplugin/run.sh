#!/usr/bin/env bash
# bench/run.sh deviceplugin: GetPreferredAllocation and Allocate latency, p50 and p99, over the
# real unix-socket gRPC on the 8-GPU dgx-h100 fixture. Zenith's plugin against a minimal Go
# device plugin on the same upstream k8s.io/kubelet package (kubelet-peer floor-plugin), which
# answers with the least possible work: the floor of what the transport costs. The client is
# kubelet-peer, as the kubelet would call: one call at a time on one connection.
# Env: DP_BUILD (build-bench-dp), PLUGIN (a zenith-device-plugin binary; built when unset),
# PAIRS (5), ITERS (2000 timed calls per run).
set -euo pipefail
cd "$(dirname "$0")/../.."
DP_BUILD=${DP_BUILD:-build-bench-dp}
if [[ -z "${PLUGIN:-}" ]]; then
  PLUGIN=$DP_BUILD/device-plugin/zenith-device-plugin
  if [[ ! -x $PLUGIN ]]; then
    cmake -S . -B "$DP_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZENITH_BUILD_TESTS=OFF \
      -DZENITH_BUILD_OPERATOR=OFF -DZENITH_BUILD_RUNTIME=OFF >/dev/null
    cmake --build "$DP_BUILD" -j2 --target zenith-device-plugin >&2
  fi
fi
PEER=$(e2e/build-tools.sh kubelet-peer)
FIXTURE=$PWD/examples/topologies/dgx-h100.yaml
export PEER PLUGIN FIXTURE
one=bench/deviceplugin/one.sh
echo "# deviceplugin: dgx-h100 fixture (8 GPUs), 4 of 8 chosen / allocated, ${ITERS:-2000} calls per run"
for rpc in preferred allocate; do
  for p in p50 p99; do
    python3 bench/compare.py "deviceplugin_${rpc}_${p}" us lower \
      zenith="$one zenith ${rpc}_${p}" go_floor="$one floor ${rpc}_${p}"
  done
done
