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
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
python=$(command -v python3)
pybind=()
if dir=$("$python" -m pybind11 --cmakedir 2>/dev/null); then pybind=(-Dpybind11_DIR="$dir"); fi
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DZENITH_ALLOW_MISSING_DEPS=ON -DZENITH_BUILD_OPERATOR=OFF -DZENITH_WITH_CUDA=on \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DPython3_EXECUTABLE="$python" "${pybind[@]}" || exit 1

section "build"
timeout 300 cmake --build "$build" -j"$(nproc)" || exit 1

# The GPU tests run as programs (not through ctest) so what they print reaches the log.
section "NVML discovery and the device plugin's Allocate on the real card"
timeout 120 "$build/tests/device-plugin/deviceplugin_nvml_gpu_test" || status=1

section "NVML discovery (zenith-discover) against nvidia-smi"
timeout 60 "$build/device-plugin/zenith-discover" --backend=nvml || status=1
timeout 60 "$build/device-plugin/zenith-discover" --backend=hwloc | head -c 3000; echo
nvidia-smi --query-gpu=uuid,memory.total,pci.bus_id --format=csv,noheader,nounits
nvidia-smi topo -m || true

section "precision kernels, host-to-device bandwidth, the C++ device feeder"
timeout 300 "$build/tests/runtime/cuda/runtime_cuda_test" || status=1

section "the Python GPU path (torch_dataset(device='cuda') from the page-locked segment)"
if [ -d "$build/runtime/python/zenith" ]; then
  PYTHONPATH="$build/runtime/python" timeout 300 "$python" -m unittest discover -v \
    -s "$root/runtime/python/tests" -p 'test_*.py' || status=1
else
  echo "not built: the zenith Python module needs Python headers and pybind11"
  status=1
fi

section "all tests that built here (ctest -L unit)"
(cd "$build" && timeout 300 ctest -L unit -j"$(nproc)" --timeout 200 --output-on-failure |
  tail -25) || status=1

section "done: status $status"
exit "$status"
