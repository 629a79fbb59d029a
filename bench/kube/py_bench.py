"""The Python `kubernetes` client doing what kube_bench does: N ConfigMap creates (sequential),
and the create-start -> ADDED latency seen by a watch. Prints KEY=VALUE lines."""
import os
import sys
import threading
import time

from kubernetes import client, config, watch


def main():
    kubeconfig, count = sys.argv[1], int(sys.argv[2])
    config.load_kube_config(config_file=kubeconfig)
    v1 = client.CoreV1Api()
    ns = f"kube-bench-py-{os.getpid()}"
    v1.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    started, seen = {}, {}
    done = threading.Event()

    def watcher():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=300):
            if ev["type"] == "ADDED":
                seen[ev["object"].metadata.name] = time.monotonic()
                if len(seen) >= count:
                    break
        done.set()

    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    for i in range(count):
        name = f"cm-{i}"
        started[name] = time.monotonic()
        v1.create_namespaced_config_map(ns, {"apiVersion": "v1", "kind": "ConfigMap",
                                             "metadata": {"name": name}, "data": {"k": "v"}})
    secs = time.monotonic() - t0
    done.wait(30)
    lat = sorted((seen[n] - started[n]) * 1000 for n in seen if n in started)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0.0
    print(f"PY_CREATE_RATE={count / secs:.1f}")
    print(f"PY_WATCH_P50_MS={p(0.5):.3f}")
    print(f"PY_WATCH_P99_MS={p(0.99):.3f}")
    v1.delete_namespace(ns)


if __name__ == "__main__":
    main()
