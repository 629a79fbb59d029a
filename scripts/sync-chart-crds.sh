#!/usr/bin/env bash
# The CRDs live in crds/ (the source of truth); the Helm chart carries identical copies in
# charts/zenith/crds/ because Helm reads only files inside the chart. Run after editing a CRD;
# tests/chart/chart_test.sh fails while the two differ.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rm -f "$root"/charts/zenith/crds/*.yaml
cp "$root"/crds/*.yaml "$root/charts/zenith/crds/"
echo "copied the CRDs of crds/ into charts/zenith/crds/"
