// Sustained create rate and watch-event latency of zenith_kube against a real API server.
//   kube_bench --kubeconfig PATH [--count N] [--concurrency C]
// Creates N ConfigMaps in a fresh namespace with C threads while one watch stream records when
// each ADDED event arrives; prints objects/s and the create-start → event latency percentiles.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "zenith/kube/client.h"

namespace kube = zenith::kube;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  std::string kubeconfig;
  int count = 500;
  int concurrency = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--kubeconfig")
      kubeconfig = argv[i + 1];
    else if (flag == "--count")
      count = std::atoi(argv[i + 1]);
    else if (flag == "--concurrency")
      concurrency = std::max(1, std::atoi(argv[i + 1]));
  }
  auto config = kube::LoadKubeconfig(kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  kube::ClientOptions options;
  options.qps = 0;  // measure the client, not its limiter
  auto client = kube::Client::Create(*config, options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 1;
  }
  kube::Client& c = **client;
  const std::string ns =
      "kube-bench-" + std::to_string(::getpid()) + "-c" + std::to_string(concurrency);
  auto made = c.Create(kube::resources::Namespaces(), "",
                       {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 1;
  }
  auto cms = kube::resources::ConfigMaps();
  auto list = c.List(cms, ns);
  std::vector<Clock::time_point> started(count), seen(count);
  std::atomic<int> events{0};
  kube::Cancellation cancel;
  kube::WatchOptions wo;
  wo.resource_version = kube::ResourceVersionOf(*list);
  wo.timeout_seconds = 300;
  std::thread watcher([&] {
    (void)c.Watch(
        cms, ns, wo,
        [&](const kube::WatchEvent& ev) {
          if (ev.type != kube::WatchEvent::Type::kAdded) return true;
          std::string name = ev.object["metadata"].value("name", "");
          int i = std::atoi(name.c_str() + 3);
          if (i >= 0 && i < count) seen[i] = Clock::now();
          return ++events < count;
        },
        &cancel);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the watch is established
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int w = 0; w < concurrency; ++w) {
    workers.emplace_back([&] {
      for (int i; (i = next++) < count;) {
        started[i] = Clock::now();
        kube::Json cm = {{"apiVersion", "v1"},
                         {"kind", "ConfigMap"},
                         {"metadata", {{"name", "cm-" + std::to_string(i)}}},
                         {"data", {{"k", "v"}}}};
        if (!c.Create(cms, ns, cm).ok()) ++failures;
      }
    });
  }
  for (auto& t : workers) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (events.load() < count - failures.load() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  cancel.Cancel();
  watcher.join();
  std::vector<double> lat;
  for (int i = 0; i < count; ++i) {
    if (seen[i] != Clock::time_point{}) {
      lat.push_back(std::chrono::duration<double, std::milli>(seen[i] - started[i]).count());
    }
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, size_t(p * lat.size()))];
  };
  std::printf("zenith create: %d objects, concurrency %d, %.2fs, %.1f objects/s, %d failures\n",
              count, concurrency, secs, count / secs, failures.load());
  std::printf(
      "zenith watch latency (create start -> ADDED): p50=%.2fms p99=%.2fms over %zu events\n",
      pct(0.5), pct(0.99), lat.size());
  std::printf("ZENITH_CREATE_RATE=%.1f\nZENITH_WATCH_P50_MS=%.3f\nZENITH_WATCH_P99_MS=%.3f\n",
              count / secs, pct(0.5), pct(0.99));
  (void)c.Delete(kube::resources::Namespaces(), "", ns);
  return failures.load() == 0 ? 0 : 1;
}
