// Gang start-up latency on a live API server with kwok nodes: how long from submitting a
// 4-worker job until all its pods are bound, and until all are Running.
//   operator_bench --kubeconfig PATH --mode zenith|kube-scheduler [--jobs 100] [--workers 4]
// zenith: creates ZenithJobs (the operator, running separately, makes and binds the pods).
// kube-scheduler: creates the same worker pods directly, schedulerName default-scheduler.
// One watch records when each pod is first seen bound and Running. Per job, the latency is the
// slowest of its pods, from the moment its create request was sent. Prints KEY=VALUE lines.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "zenith/kube/client.h"
#include "zenith/kube/informer.h"

namespace kube = zenith::kube;
using Json = kube::Json;
using Clock = std::chrono::steady_clock;

namespace {

Json Container() {
  return {{"name", "trainer"},
          {"image", "busybox:1.36"},
          {"resources",
           {{"requests", {{"zenith.ai/gpu", "1"}}}, {"limits", {{"zenith.ai/gpu", "1"}}}}}};
}

Json ZenithJob(const std::string& name, int workers) {
  return {{"apiVersion", "zenith.ai/v1alpha1"},
          {"kind", "ZenithJob"},
          {"metadata", {{"name", name}, {"annotations", {{"zenith.ai/simulate-duration", "1h"}}}}},
          {"spec",
           {{"replicas", workers},
            {"gpusPerReplica", 1},
            {"template", {{"spec", {{"containers", Json::array({Container()})}}}}}}}};
}

Json PlainPod(const std::string& job, int rank) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", job + "-" + std::to_string(rank)}, {"labels", {{"bench.zenith.ai/job", job}}}}},
      {"spec",
       {{"schedulerName", "default-scheduler"},
        {"restartPolicy", "Never"},
        {"containers", Json::array({Container()})}}}};
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, mode = "zenith";
  int jobs = 100, workers = 4, timeout_s = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--kubeconfig") kubeconfig = argv[i + 1];
    if (f == "--mode") mode = argv[i + 1];
    if (f == "--jobs") jobs = std::atoi(argv[i + 1]);
    if (f == "--workers") workers = std::atoi(argv[i + 1]);
    if (f == "--timeout") timeout_s = std::atoi(argv[i + 1]);
  }
  auto config = kube::LoadKubeconfig(kubeconfig);
  if (!config.ok()) {
    std::fprintf(stderr, "%s\n", config.status().ToString().c_str());
    return 1;
  }
  kube::ClientOptions options;
  options.qps = 0;
  auto made = kube::Client::Create(*config, options);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
    return 1;
  }
  kube::Client& c = **made;
  const std::string ns = "opbench-" + mode + "-" + std::to_string(::getpid());
  for (const auto& [type, body] :
       {std::pair<kube::GroupVersionResource, Json>{
            kube::resources::Namespaces(),
            {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}},
        {kube::resources::ServiceAccounts(),
         {{"apiVersion", "v1"},
          {"kind", "ServiceAccount"},
          {"metadata", {{"name", "default"}, {"namespace", ns}}}}}}) {
    auto r = c.Create(type, type.namespaced ? ns : "", body);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      return 1;
    }
  }

  // pod name -> first time seen bound / Running.
  std::mutex mu;
  std::map<std::string, Clock::time_point> bound, running;
  auto see = [&](const Json& pod) {
    auto now = Clock::now();
    std::string name = pod["metadata"].value("name", "");
    std::lock_guard<std::mutex> l(mu);
    if (!pod["spec"].value("nodeName", "").empty()) bound.emplace(name, now);
    if (pod.value("status", Json::object()).value("phase", "") == "Running")
      running.emplace(name, now);
  };
  kube::ResumableWatchOptions wo;
  wo.namespace_ = ns;
  kube::Informer pods(c, kube::resources::Pods(), wo);
  pods.AddHandlers({see, [&](const Json&, const Json& p) { see(p); }, nullptr});
  pods.Start();
  pods.WaitForSync(std::chrono::seconds(30));

  auto zj = kube::resources::Custom("zenith.ai", "v1alpha1", "zenithjobs", true, "ZenithJob");
  std::vector<Clock::time_point> submitted(jobs);
  for (int j = 0; j < jobs; ++j) {
    std::string name = "job-" + std::to_string(j);
    submitted[j] = Clock::now();
    if (mode == "zenith") {
      auto r = c.Create(zj, ns, ZenithJob(name, workers));
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        return 1;
      }
    } else {
      for (int w = 0; w < workers; ++w) {
        auto r = c.Create(kube::resources::Pods(), ns, PlainPod(name, w));
        if (!r.ok()) {
          std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
          return 1;
        }
      }
    }
  }
  const size_t want = static_cast<size_t>(jobs) * workers;
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (Clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (running.size() >= want && bound.size() >= want) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pods.Stop();
  std::vector<double> to_bound, to_running;
  {
    std::lock_guard<std::mutex> l(mu);
    for (int j = 0; j < jobs; ++j) {
      Clock::time_point b{}, r{};
      bool complete = true;
      for (int w = 0; w < workers; ++w) {
        std::string pod = "job-" + std::to_string(j) + "-" + std::to_string(w);
        if (!bound.count(pod) || !running.count(pod)) {
          complete = false;
          break;
        }
        b = std::max(b, bound[pod]);
        r = std::max(r, running[pod]);
      }
      if (!complete) continue;
      to_bound.push_back(std::chrono::duration<double, std::milli>(b - submitted[j]).count());
      to_running.push_back(std::chrono::duration<double, std::milli>(r - submitted[j]).count());
    }
  }
  std::printf("NAMESPACE=%s\nJOBS_COMPLETE=%zu\n", ns.c_str(), to_bound.size());
  std::printf("BOUND_P50_MS=%.1f\nBOUND_P99_MS=%.1f\n", Percentile(to_bound, 0.5),
              Percentile(to_bound, 0.99));
  std::printf("RUNNING_P50_MS=%.1f\nRUNNING_P99_MS=%.1f\n", Percentile(to_running, 0.5),
              Percentile(to_running, 0.99));
  return to_bound.size() == static_cast<size_t>(jobs) ? 0 : 2;
}
