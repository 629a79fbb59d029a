#!/usr/bin/env bash
# Installs everything Zenith's build, tests and benchmarks need from Debian's packages.
# Idempotent: a second run installs nothing new. Run as root or through sudo.
#   scripts/setup.sh          build, test and benchmark dependencies
#   scripts/setup.sh --cuda   also a compile-only CUDA toolkit and NCCL headers (Python wheels)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
want_cuda=0
for arg in "$@"; do
  case "$arg" in
    --cuda) want_cuda=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache git curl openssl ca-certificates
  clang-format clang-tidy clang libclang-rt-14-dev shellcheck
  # the design card's libraries
  libcpprest-dev libyaml-cpp-dev libprotobuf-dev protobuf-compiler libgrpc++-dev
  protobuf-compiler-grpc libssl-dev libhwloc-dev hwloc liburing-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  # benchmark peers (bench/README.md names who is compared with what)
  libboost-dev libconcurrentqueue-dev libreaderwriterqueue-dev libatomic-queue-dev libtbb-dev
  libjemalloc-dev libmimalloc-dev fio
  # the Python consumer package and its tests
  python3-dev pybind11-dev python3-yaml python3-numpy
  # `pip install ./runtime/python` into a venv, offline (its test builds without isolation)
  python3-venv python3-pip python3-setuptools python3-pybind11
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup.sh: all ${#packages[@]} Debian packages already installed"
fi

# The local control plane (e2e/) is built from Go modules with the machine's Go.
if ! command -v go >/dev/null; then
  echo "setup.sh: warning: 'go' not found; e2e/ needs Go >= 1.26 to build the control plane" >&2
fi

if [ "$want_cuda" -eq 1 ]; then
  "$here/setup-cuda.sh"
fi
echo "setup.sh: done"
