#!/usr/bin/env bash
# Installs a compile-only CUDA toolkit (nvcc, the runtime headers and library, CCCL) and NCCL
# from NVIDIA's wheels in the Python package registry, for machines without a GPU where CI
# should still compile Zenith's CUDA sources. Nothing here can run a kernel.
#   scripts/setup-cuda.sh [PREFIX]     default PREFIX: /opt/zenith-cuda
# Then configure with -DCMAKE_CUDA_COMPILER=PREFIX/bin/nvcc (or put PREFIX/bin on PATH).
set -euo pipefail

prefix=${1:-/opt/zenith-cuda}
cuda_version=13.0
wheels=(
  nvidia-cuda-nvcc==13.0.88
  nvidia-cuda-crt==13.0.88
  nvidia-nvvm==13.0.88
  nvidia-cuda-runtime==13.0.96
  nvidia-cuda-cccl==13.0.85
  nvidia-nccl-cu13==2.28.9
)

if [ -x "$prefix/bin/nvcc" ] && [ -f "$prefix/include/nccl.h" ]; then
  echo "setup-cuda.sh: $prefix already holds nvcc $("$prefix/bin/nvcc" --version | tail -1)"
  exit 0
fi
python3 -m pip --version >/dev/null 2>&1 || { echo "setup-cuda.sh: needs python3 with pip" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "setup-cuda.sh: downloading ${wheels[*]}"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheels" "${wheels[@]}"
mkdir -p "$work/unpacked"
for w in "$work"/wheels/*.whl; do
  python3 -m zipfile -e "$w" "$work/unpacked"
done

# The CUDA 13 wheels share one prefix (nvidia/cu13); NCCL has its own (nvidia/nccl).
src="$work/unpacked/nvidia"
mkdir -p "$prefix"/{include,lib64}
cp -a "$src/cu13/." "$prefix/"
if [ -d "$prefix/lib" ]; then
  cp -a "$prefix/lib/." "$prefix/lib64/" && rm -rf "${prefix:?}/lib"
fi
cp -a "$src/nccl/include/." "$prefix/include/"
cp -a "$src/nccl/lib/." "$prefix/lib64/"
find "$prefix" -name '__init__.py' -delete
find "$prefix" -type d -name '__pycache__' -prune -exec rm -rf {} +
chmod +x "$prefix"/bin/* "$prefix"/nvvm/bin/* 2>/dev/null || true
# Unversioned names for the linker.
(cd "$prefix/lib64" && for lib in libcudart.so.* libnccl.so.*; do
   [ -e "$lib" ] && ln -sf "$lib" "${lib%%.so.*}.so"
 done)
echo "setup-cuda.sh: CUDA $cuda_version compile-only toolkit in $prefix"
"$prefix/bin/nvcc" --version | tail -2
