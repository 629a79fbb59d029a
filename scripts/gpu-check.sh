#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds the GPU-facing targets with only what such a machine
# has (no gRPC, cpprestsdk, liburing or prometheus-cpp needed), runs the GPU tests, and prints
# what NVML discovery sees next to nvidia-smi. Writes its log to ${OUT:-.}/gpu-check.log.
#   scripts/gpu-check.sh [BUILD_DIR]
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-gpu}
out=${OUT:-.}
log="$out/gpu-check.log"
mkdir -p "$out"
exec > >(tee "$log") 2>&1

section() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
status=0

section "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id,uuid --format=csv
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
nvcc --version | tail -2
nproc

section "configure (GPU machine packages only)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DZENITH_ALLOW_MISSING_DEPS=ON \
  -DZENITH_BUILD_OPERATOR=OFF -DZENITH_WITH_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 || exit 1

section "build"
cmake --build "$build" -j"$(nproc)" || exit 1

section "GPU tests (ctest -L gpu)"
(cd "$build" && ctest -L gpu --output-on-failure --timeout 300) || status=1

section "all tests that built here (ctest -L unit)"
(cd "$build" && ctest -L unit -j"$(nproc)" --timeout 300 | tail -15) || status=1

section "precision kernels and host-to-device bandwidth"
"$build/tests/runtime/cuda/runtime_cuda_test" --gtest_filter='PrecisionDevice*' | grep -E 'RESULT|OK|FAILED|SKIPPED' || status=1

section "consumer-side GPU feeder: a real channel's batches to the device, against the CPU reference"
"$build/tests/runtime/cuda/runtime_cuda_test" --gtest_filter='DeviceFeeder*:DeviceTensorPlan*' |
  grep -E 'feeder:|OK|FAILED|SKIPPED|Failure|differ' || status=1

section "NVML discovery against nvidia-smi"
if [ -x "$build/device-plugin/zenith-discover" ]; then
  "$build/device-plugin/zenith-discover" --backend=nvml || status=1
  "$build/device-plugin/zenith-discover" --backend=hwloc | head -c 3000; echo
fi
nvidia-smi --query-gpu=uuid,memory.total,pci.bus_id --format=csv,noheader,nounits
nvidia-smi topo -m || true

section "done: status $status"
exit "$status"
