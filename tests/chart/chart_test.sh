#!/usr/bin/env bash
# The Helm chart on a real kube-apiserver: `helm lint` is clean for the default and the
# simulated-node values; the chart's CRDs are the top-level crds/ (one source of truth); `helm
# install` creates every object and the API server accepts them; the service accounts can do
# what the programs need and are refused what they do not (kubectl auth can-i --as).
#   KUBECONFIG=... tests/chart/chart_test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
chart="$root/charts/zenith"
: "${KUBECONFIG:?set KUBECONFIG to the kubeconfig of the test cluster}"
helm=$("$root/e2e/build-tools.sh" helm)
ns="zenith-chart-$$"
release="zenith"
passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
cleanup() {
  "$helm" uninstall "$release" -n "$ns" >/dev/null 2>&1 || true
  kubectl delete namespace "$ns" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

# 1. Lint, for the values users start from.
fixture="$root/examples/topologies/dgx-h100.yaml"
for args in "" "--set devicePlugin.backend=fixture --set-file devicePlugin.fixtureTopology=$fixture" \
  "--set metrics.serviceMonitor.enabled=true --set operator.replicas=1"; do
  # shellcheck disable=SC2086
  if out=$("$helm" lint --strict "$chart" $args 2>&1); then
    ok "helm lint --strict ${args:-(defaults)}"
  else
    bad "helm lint ${args:-(defaults)}: $out"
  fi
done
if out=$("$helm" template "$release" "$chart" --set devicePlugin.backend=fixture 2>&1); then
  bad "fixture backend without a topology was rendered"
elif grep -qF "devicePlugin.fixtureTopology" <<<"$out"; then
  ok "fixture backend without a topology is refused naming devicePlugin.fixtureTopology"
else
  bad "fixture backend without a topology failed without naming the value: $out"
fi

# 1b. The config files the chart renders are ones the programs accept (every key known, every
# value valid): each program is started on its rendered file and must get past its config.
if [ -n "${ZENITH_BUILD_DIR:-}" ]; then
  rendered=$(mktemp -d)
  "$helm" template "$release" "$chart" --set devicePlugin.backend=fixture \
    --set-file devicePlugin.fixtureTopology="$fixture" >"$rendered/all.yaml"
  python3 - "$rendered" <<'PY'
import sys, yaml
out = sys.argv[1]
for doc in yaml.safe_load_all(open(out + "/all.yaml")):
    if doc and doc.get("kind") == "ConfigMap":
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        for key, text in doc["data"].items():
            open(f"{out}/{component}-{key}", "w").write(text)
PY
  sed -i "s|/etc/zenith/topology.yaml|$rendered/device-plugin-topology.yaml|" "$rendered/device-plugin-config.yaml"
  for program in operator/zenith-operator device-plugin/zenith-device-plugin; do
    component=$(basename "$program"); component=${component#zenith-}
    bin="$ZENITH_BUILD_DIR/$program"
    [ -x "$bin" ] || { bad "$bin not built"; continue; }
    # No cluster credentials on purpose: a good config gets as far as needing them, or serving.
    extra=()
    [ "$component" = device-plugin ] && extra=(--kubelet-dir="$rendered")
    out=$(timeout 5 "$bin" --config="$rendered/$component-config.yaml" --metrics.port=0 \
      --kubeconfig=/nonexistent/kubeconfig "${extra[@]}" 2>&1 || true)
    if grep -qiE "config key|config file" <<<"$out"; then
      bad "$component refuses the chart's config: $(grep -iE 'config key|config file' <<<"$out" | head -1)"
    else
      ok "$component accepts the config file the chart renders"
    fi
  done
  rm -rf "$rendered"
fi

# 2. The chart's CRDs are exactly the top-level ones (scripts/sync-chart-crds.sh copies them).
for f in "$root"/crds/*.yaml; do
  if cmp -s "$f" "$chart/crds/$(basename "$f")"; then
    ok "chart carries crds/$(basename "$f") unchanged"
  else
    bad "charts/zenith/crds/$(basename "$f") differs from crds/ (run scripts/sync-chart-crds.sh)"
  fi
done
for f in "$chart"/crds/*.yaml; do
  [ -e "$root/crds/$(basename "$f")" ] || bad "charts/zenith/crds/$(basename "$f") has no source in crds/"
done

# 3. Install: every object is created and accepted by the API server.
if out=$("$helm" install "$release" "$chart" -n "$ns" --create-namespace \
  --set devicePlugin.backend=fixture --set-file devicePlugin.fixtureTopology="$fixture" 2>&1); then
  ok "helm install"
else
  bad "helm install: $out"
fi
for object in deployment/zenith-operator daemonset/zenith-device-plugin \
  serviceaccount/zenith-operator serviceaccount/zenith-device-plugin \
  configmap/zenith-operator configmap/zenith-device-plugin \
  service/zenith-operator-metrics service/zenith-device-plugin-metrics \
  poddisruptionbudget/zenith-operator role/zenith-operator-leader-election \
  rolebinding/zenith-operator-leader-election; do
  if kubectl get -n "$ns" "$object" >/dev/null 2>&1; then ok "$object exists"; else bad "$object missing"; fi
done
for object in clusterrole/zenith-operator clusterrole/zenith-device-plugin \
  clusterrolebinding/zenith-operator clusterrolebinding/zenith-device-plugin \
  crd/zenithjobs.zenith.ai crd/zenithnodes.zenith.ai; do
  if kubectl get "$object" >/dev/null 2>&1; then ok "$object exists"; else bad "$object missing"; fi
done
got=$(kubectl get daemonset zenith-device-plugin -n "$ns" -o jsonpath='{.spec.template.spec.priorityClassName}')
if [ "$got" = system-node-critical ]; then ok "device plugin is system-node-critical"; else bad "device plugin priority '$got'"; fi
got=$(kubectl get deployment zenith-operator -n "$ns" -o jsonpath='{.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem}/{.spec.template.spec.securityContext.runAsNonRoot}')
if [ "$got" = true/true ]; then ok "operator runs non-root on a read-only root filesystem"
else bad "operator security context '$got'"; fi

# 4. Least privilege, as the API server's RBAC authorizer sees it.
can() { # SA EXPECT(yes|no) VERB RESOURCE [NAMESPACE]
  local sa="$1" want="$2" verb="$3" resource="$4" where=()
  if [ -n "${5:-}" ]; then where=(-n "$5"); else where=(--all-namespaces); fi
  # "pods/binding" names a subresource; a bare "pods/x" would mean the pod called x.
  if [[ "$resource" == */* ]]; then where+=(--subresource="${resource#*/}"); fi
  local got
  got=$(kubectl auth can-i "$verb" "${resource%%/*}" "${where[@]}" \
    --as="system:serviceaccount:$ns:zenith-$sa" 2>/dev/null || true)
  if [ "$got" = "$want" ]; then ok "$sa can-i $verb $resource ${5:-(all namespaces)}: $got"
  else bad "$sa can-i $verb $resource ${5:-(all namespaces)}: got '$got', want '$want'"; fi
}
for rule in "get zenithjobs.zenith.ai" "watch zenithjobs.zenith.ai" "update zenithjobs.zenith.ai/status" \
  "update zenithjobs.zenith.ai/finalizers" "list zenithnodes.zenith.ai" \
  "create pods" "delete pods" "create pods/binding" "create services" "delete services" \
  "create events" "list nodes" "create tokenreviews.authentication.k8s.io" \
  "create subjectaccessreviews.authorization.k8s.io"; do
  # shellcheck disable=SC2086
  can operator yes $rule
done
can operator yes update leases.coordination.k8s.io "$ns"
# ZenithQueues arrive with the gang scheduler's CRD; can-i answers "no" for an unknown type.
if kubectl get crd zenithqueues.zenith.ai >/dev/null 2>&1; then can operator yes list zenithqueues.zenith.ai; fi
for rule in "update leases.coordination.k8s.io" "get secrets" "delete nodes" "patch nodes" \
  "create deployments.apps" "update zenithnodes.zenith.ai" "create pods/exec" \
  "create clusterrolebindings.rbac.authorization.k8s.io"; do
  # shellcheck disable=SC2086
  can operator no $rule
done
for rule in "get zenithnodes.zenith.ai" "create zenithnodes.zenith.ai" "patch zenithnodes.zenith.ai" \
  "patch nodes" "get nodes"; do
  # shellcheck disable=SC2086
  can device-plugin yes $rule
done
for rule in "delete zenithnodes.zenith.ai" "list pods" "get secrets" "delete nodes" \
  "get zenithjobs.zenith.ai" "create pods/binding"; do
  # shellcheck disable=SC2086
  can device-plugin no $rule
done

# 5. Uninstall removes the release's objects (CRDs stay, as Helm does with crds/).
if out=$("$helm" uninstall "$release" -n "$ns" --wait --timeout 60s 2>&1); then ok "helm uninstall"; else bad "helm uninstall: $out"; fi
if kubectl get clusterrole zenith-operator >/dev/null 2>&1; then bad "clusterrole left after uninstall"; else ok "cluster roles removed"; fi

echo "chart test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
