#!/usr/bin/env bash
# The device plugin's conformance test: the real zenith-device-plugin, in fixture mode, against
# kubelet-peer (e2e/tools/kubelet-peer, the upstream k8s.io/kubelet v1beta1 package playing the
# kubelet) in a fresh device-plugins directory.
# usage: conformance.sh PLUGIN_BINARY FIXTURE_YAML
set -euo pipefail
plugin=$1
fixture=$2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if ! command -v go >/dev/null; then
  echo "FAIL: Go is not installed, so the kubelet peer (e2e/tools/kubelet-peer) cannot be built." >&2
  echo "      Install Go 1.26 (see e2e/README.md); this test does not pass without the peer." >&2
  exit 1
fi
if ! peer=$("$root/e2e/build-tools.sh" kubelet-peer); then
  echo "FAIL: e2e/build-tools.sh kubelet-peer could not build the kubelet peer (see above)." >&2
  exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/zdp.XXXXXX")  # short: unix socket paths are limited to 107 bytes
trap 'rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

"$peer" conformance --dir "$dir" --fixture "$fixture" --health-file "$dir/health" \
  --metrics-url "http://127.0.0.1:$port" -- \
  "$plugin" --backend=fixture --fixture="$fixture" --kubelet-dir="$dir" \
  --health-file="$dir/health" --metrics.address=127.0.0.1 --metrics.port="$port" \
  --watch-interval=200ms
