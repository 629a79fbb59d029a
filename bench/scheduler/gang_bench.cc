// The gang scheduler's load tool for the local control plane (bench/scheduler/run.sh and the
// `scale` test): creates GPU nodes with published topologies and ZenithJobs with their worker
// pods (or the same pods as plain pods for kube-scheduler), runs GangScheduler, waits for
// bindings, and reads everything back to check that no node is over-committed and every gang
// is bound whole or not at all. Also times the placement cycle on a synthetic 5000-node
// snapshot. Subcommands print one number as their last line where a benchmark reads one.
// --io-threads N sizes cpprestsdk's pool (default 4, as the operator's http.io-threads).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "zenith/common/admin_server.h"
#include "zenith/common/metrics.h"
#include "zenith/deviceplugin/fixture_discovery.h"
#include "zenith/deviceplugin/node_publisher.h"
#include "zenith/kube/api_error.h"
#include "zenith/kube/client.h"
#include "zenith/kube/config.h"
#include "zenith/kube/informer.h"
#include "zenith/operator/gang/cache_transform.h"
#include "zenith/operator/gang/gang_scheduler.h"
#include "zenith/operator/scheduler/cycle.h"

namespace {

using namespace zenith;
using kube::Json;
using Clock = std::chrono::steady_clock;
namespace sched = operator_::scheduler;

const char* kGroupLabel = "zenith.ai/gang-test";

kube::GroupVersionResource Jobs() {
  return kube::resources::Custom("zenith.ai", "v1alpha1", "zenithjobs", true, "ZenithJob");
}

struct Args {
  std::map<std::string, std::string> kv;
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  long Int(const std::string& k, long def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::stol(it->second);
  }
};

[[noreturn]] void Die(const std::string& msg) {
  std::cerr << "gang_bench: " << msg << "\n";
  std::exit(1);
}

std::unique_ptr<kube::Client> MakeClient(const Args& a) {
  auto cfg = kube::LoadKubeconfig(
      a.Get("kubeconfig", std::getenv("KUBECONFIG") ? std::getenv("KUBECONFIG") : ""));
  if (!cfg.ok()) Die(cfg.status().ToString());
  kube::ClientOptions o;
  o.qps = static_cast<double>(a.Int("qps", 2000));
  o.burst = static_cast<int>(a.Int("burst", 2 * a.Int("qps", 2000)));
  auto c = kube::Client::Create(*cfg, o);
  if (!c.ok()) Die(c.status().ToString());
  return std::move(*c);
}

deviceplugin::NodeTopology Topology(const std::string& dir, const std::string& file) {
  deviceplugin::FixtureDiscovery d(dir + "/" + file);
  auto t = d.Discover();
  if (!t.ok()) Die(t.status().ToString());
  return *t;
}

// Runs f(i) for i in [0, n) on `threads` threads.
void Parallel(int n, int threads, const std::function<void(int)>& f) {
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) f(i);
    });
  for (auto& t : pool) t.join();
}

long PeakRssKib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// nodes: N Ready nodes, even ones dgx-h100 (8 GPUs, NVSwitch), odd ones pcie-4gpu-2numa (4
// GPUs); each with its ZenithNode published by the device plugin's NodePublisher.
int Nodes(const Args& a) {
  auto c = MakeClient(a);
  const int n = static_cast<int>(a.Int("count", 1000));
  const std::string prefix = a.Get("prefix", "gb");
  const std::string dir = a.Get("topologies", ZENITH_TOPOLOGY_DIR);
  const auto dgx = Topology(dir, "dgx-h100.yaml");
  const auto pcie = Topology(dir, "pcie-4gpu-2numa.yaml");
  std::atomic<int> failed{0};
  Parallel(n, 16, [&](int i) {
    const auto& topo = i % 2 == 0 ? dgx : pcie;
    const std::string name = prefix + "-" + std::to_string(i);
    Json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata", {{"name", name}, {"labels", {{kGroupLabel, prefix}}}}}};
    auto r = c->Create(kube::resources::Nodes(), "", node);
    if (!r.ok() && !kube::IsAlreadyExists(r.status())) {
      std::cerr << r.status() << "\n";
      ++failed;
      return;
    }
    Json res = {{"cpu", "224"},
                {"memory", "2Ti"},
                {"pods", "110"},
                {"zenith.ai/gpu", std::to_string(topo.gpus.size())}};
    Json st = {{"status",
                {{"capacity", res},
                 {"allocatable", res},
                 {"conditions", Json::array({{{"type", "Ready"},
                                              {"status", "True"},
                                              {"reason", "KubeletReady"},
                                              {"message", "bench"}}})}}}};
    auto s =
        c->PatchStatus(kube::resources::Nodes(), "", name, kube::PatchType::kStrategicMerge, st);
    Status p = s.ok() ? deviceplugin::NodePublisher(*c, {name}).Publish(topo) : s.status();
    if (!p.ok()) {
      std::cerr << name << ": " << p << "\n";
      ++failed;
    }
  });
  std::cout << "nodes created: " << n - failed << "/" << n << "\n";
  return failed ? 1 : 0;
}

int DeleteNodes(const Args& a) {
  auto c = MakeClient(a);
  const std::string prefix = a.Get("prefix", "gb");
  kube::ListOptions o;
  o.label_selector = std::string(kGroupLabel) + "=" + prefix;
  auto nodes = c->ListAll(kube::resources::Nodes(), "", o);
  if (!nodes.ok()) Die(nodes.status().ToString());
  std::vector<std::string> names;
  for (const Json& n : (*nodes)["items"]) names.push_back(n["metadata"].value("name", ""));
  Parallel(static_cast<int>(names.size()), 16, [&](int i) {
    (void)c->Delete(kube::resources::Nodes(), "", names[i]);
    (void)c->Delete(deviceplugin::ZenithNodes(), "", names[i]);
  });
  std::cout << "nodes deleted: " << names.size() << "\n";
  return 0;
}

// jobs: J jobs of min..max workers (seeded), each worker 1, 2, 4 or 8 GPUs. With --plain the
// same pods without a ZenithJob, for the default scheduler.
int MakeJobs(const Args& a) {
  auto c = MakeClient(a);
  const std::string ns = a.Get("ns", "gang-bench");
  const int jobs = static_cast<int>(a.Int("jobs", 100));
  const int lo = static_cast<int>(a.Int("min", 1)), hi = static_cast<int>(a.Int("max", 16));
  const bool plain = a.Get("plain") == "1";
  std::mt19937 rng(static_cast<uint32_t>(a.Int("seed", 1)));
  struct Shape {
    int workers, gpus;
  };
  std::vector<Shape> shapes;
  const int gpu_choices[] = {1, 2, 4, 8};
  const int fixed_gpus = static_cast<int>(a.Int("gpus", 0));  // 0: 1, 2, 4 or 8 at random
  for (int j = 0; j < jobs; ++j) {
    const int workers = std::uniform_int_distribution<int>(lo, hi)(rng);
    const int gpus = gpu_choices[std::uniform_int_distribution<int>(0, 3)(rng)];
    shapes.push_back({workers, fixed_gpus > 0 ? fixed_gpus : gpus});
  }
  (void)c->Create(kube::resources::Namespaces(), "",
                  {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  // Pods need the "default" ServiceAccount; kube-controller-manager would make it.
  (void)c->Create(kube::resources::ServiceAccounts(), ns,
                  {{"apiVersion", "v1"},
                   {"kind", "ServiceAccount"},
                   {"metadata", {{"name", "default"}, {"namespace", ns}}}});
  std::atomic<int> pods{0}, failed{0};
  Parallel(jobs, 16, [&](int j) {
    const std::string name = "j" + std::to_string(j);
    const Shape s = shapes[j];
    Json container = {{"name", "trainer"}, {"image", "busybox"}};
    std::string uid;
    if (!plain) {
      Json job = {{"apiVersion", "zenith.ai/v1alpha1"},
                  {"kind", "ZenithJob"},
                  {"metadata", {{"name", name}, {"namespace", ns}}},
                  {"spec",
                   {{"replicas", s.workers},
                    {"gpusPerReplica", s.gpus},
                    {"template", {{"spec", {{"containers", Json::array({container})}}}}}}}};
      auto r = c->Create(Jobs(), ns, job);
      if (!r.ok()) {
        std::cerr << r.status() << "\n";
        ++failed;
        return;
      }
      uid = (*r)["metadata"].value("uid", "");
    }
    for (int rank = 0; rank < s.workers; ++rank) {
      Json pc = container;
      pc["resources"] = {{"limits", {{"zenith.ai/gpu", std::to_string(s.gpus)}}},
                         {"requests", {{"cpu", "1"}, {"memory", "1Gi"}}}};
      Json md = {{"name", name + "-" + std::to_string(rank)},
                 {"namespace", ns},
                 {"labels", {{"zenith.ai/job", name}, {"zenith.ai/rank", std::to_string(rank)}}}};
      Json spec = {{"restartPolicy", "Never"}, {"containers", Json::array({pc})}};
      if (!plain) {
        md["ownerReferences"] = Json::array({{{"apiVersion", "zenith.ai/v1alpha1"},
                                              {"kind", "ZenithJob"},
                                              {"name", name},
                                              {"uid", uid},
                                              {"controller", true}}});
        spec["schedulerName"] = "zenith";
      }
      auto p = c->Create(kube::resources::Pods(), ns,
                         {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", md}, {"spec", spec}});
      if (!p.ok()) {
        std::cerr << p.status() << "\n";
        ++failed;
        return;
      }
      ++pods;
    }
  });
  std::cout << "jobs " << jobs << " pods " << pods << (plain ? " (plain)" : "") << "\n";
  return failed ? 1 : 0;
}

// schedule: GangScheduler over namespace --ns and nodes --prefix, cycles until one binds
// nothing (everything that fits is bound). Prints pods bound, seconds, pods/s, peak RSS.
int Schedule(const Args& a) {
  auto c = MakeClient(a);
  auto notes =
      MakeClient(a);  // reads, Events and status beside the binds' limiter, as in the operator
  common::MetricsRegistry metrics;
  operator_::gang::GangSchedulerOptions o;
  o.namespace_ = a.Get("ns", "gang-bench");
  if (!a.Get("prefix").empty()) o.node_selector = std::string(kGroupLabel) + "=" + a.Get("prefix");
  o.delete_grace_seconds = 0;
  o.bind_parallelism = static_cast<int>(a.Int("bind-parallelism", 16));
  operator_::gang::GangScheduler s(*c, *notes, o, metrics, common::SystemClock::Get());
  const auto t0 = Clock::now();
  Status st = s.Start(std::chrono::seconds(120), /*run_loop=*/false);
  if (!st.ok()) Die(st.ToString());
  const double sync_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const long rss_synced = PeakRssKib();
  int bound = 0, cycles = 0, idle = 0;
  auto last_bind = Clock::now();
  double max_cycle_ms = 0;
  const long expect = a.Int("expect", -1);
  while (idle < 3) {
    auto r = s.RunOnce();
    ++cycles;
    max_cycle_ms = std::max(max_cycle_ms, r.duration.count() / 1e6);
    if (r.pods_bound > 0) {
      bound += r.pods_bound;
      last_bind = Clock::now();
      idle = 0;
    } else {
      ++idle;
    }
    if (expect >= 0 && bound >= expect) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  s.FlushWrites();
  const double secs = std::chrono::duration<double>(last_bind - t0).count();
  std::cout << "informer sync " << sync_s << " s, peak RSS after sync " << rss_synced / 1024.0
            << " MiB, " << cycles << " cycles (longest " << max_cycle_ms << " ms), " << bound
            << " pods bound in " << secs << " s, peak RSS " << PeakRssKib() / 1024.0 << " MiB\n";
  std::cout << (secs > 0 ? bound / secs : 0) << "\n";
  return 0;
}

// wait-bound: watches namespace --ns until --count pods are bound; prints seconds from start to
// the first and the last binding, then pods/s over the whole run.
int WaitBound(const Args& a) {
  auto c = MakeClient(a);
  const long want = a.Int("count", 1);
  kube::ResumableWatchOptions o;
  o.namespace_ = a.Get("ns", "gang-bench");
  kube::Informer pods(*c, kube::resources::Pods(), o);
  std::mutex mu;
  std::set<std::string> bound;
  std::condition_variable cv;
  const auto t0 = Clock::now();
  Clock::time_point first{}, last{};
  auto see = [&](const Json& p) {
    if (p["spec"].value("nodeName", "").empty()) return;
    std::lock_guard<std::mutex> l(mu);
    if (bound.insert(p["metadata"].value("name", "")).second) {
      if (bound.size() == 1) first = Clock::now();
      last = Clock::now();
      cv.notify_all();
    }
  };
  pods.AddHandlers({see, [&](const Json&, const Json& n) { see(n); }, nullptr});
  pods.Start();
  std::unique_lock<std::mutex> l(mu);
  if (!cv.wait_for(l, std::chrono::seconds(a.Int("timeout", 600)),
                   [&] { return static_cast<long>(bound.size()) >= want; }))
    Die("only " + std::to_string(bound.size()) + " of " + std::to_string(want) + " pods bound");
  const double to_first = std::chrono::duration<double>(first - t0).count();
  const double to_last = std::chrono::duration<double>(last - t0).count();
  std::cout << "first bound after " << to_first << " s, all " << want << " after " << to_last
            << " s\n"
            << want / to_last << "\n";
  l.unlock();
  pods.Stop();
  return 0;
}

// verify: reads nodes, pods and ZenithJobs back; fails on an over-committed node, overlapping
// GPU indices, or a gang bound in part.
int Verify(const Args& a) {
  auto c = MakeClient(a);
  const std::string ns = a.Get("ns", "gang-bench");
  kube::ListOptions no;
  if (!a.Get("prefix").empty())
    no.label_selector = std::string(kGroupLabel) + "=" + a.Get("prefix");
  auto nodes = c->ListAll(kube::resources::Nodes(), "", no);
  auto pods = c->ListAll(kube::resources::Pods(), "", {});
  auto jobs = c->ListAll(Jobs(), ns, {});
  if (!nodes.ok() || !pods.ok() || !jobs.ok()) Die("list failed");
  std::map<std::string, long> alloc;
  for (const Json& n : (*nodes)["items"])
    alloc[n["metadata"]["name"]] =
        std::stol(n["status"]["allocatable"].value("zenith.ai/gpu", "0"));
  std::map<std::string, long> used;
  std::map<std::string, std::set<int>> indices;
  std::map<std::string, std::pair<int, int>> gang;  // job -> bound, total
  int errors = 0, bound_pods = 0;
  for (const Json& p : (*pods)["items"]) {
    const std::string node = p["spec"].value("nodeName", "");
    const std::string phase = p.value("status", Json::object()).value("phase", "");
    const Json labels = p["metadata"].value("labels", Json::object());
    const std::string pns = p["metadata"].value("namespace", "");
    if (pns == ns && labels.contains("zenith.ai/job")) {
      auto& g = gang[labels["zenith.ai/job"].get<std::string>()];
      ++g.second;
      if (!node.empty()) ++g.first;
    }
    if (node.empty() || !alloc.count(node) || phase == "Succeeded" || phase == "Failed") continue;
    ++bound_pods;
    long gpus = 0;
    for (const Json& ct : p["spec"]["containers"]) {
      const Json lim = ct.value("resources", Json::object()).value("limits", Json::object());
      if (lim.contains("zenith.ai/gpu")) gpus += std::stol(lim["zenith.ai/gpu"].get<std::string>());
    }
    used[node] += gpus;
    const Json ann = p["metadata"].value("annotations", Json::object());
    const std::string idx = ann.value("zenith.ai/gpu-indices", "");
    int count = 0;
    for (size_t s = 0; s < idx.size();) {
      size_t e = idx.find(',', s);
      if (e == std::string::npos) e = idx.size();
      int g = std::stoi(idx.substr(s, e - s));
      ++count;
      if (g < 0 || g >= alloc[node] || !indices[node].insert(g).second) {
        std::cerr << "GPU " << g << " of " << node << " given twice or out of range\n";
        ++errors;
      }
      s = e + 1;
    }
    if (!idx.empty() && count != gpus) {
      std::cerr << p["metadata"]["name"] << ": " << count << " GPU indices for " << gpus
                << " GPUs\n";
      ++errors;
    }
  }
  for (const auto& [node, u] : used)
    if (u > alloc[node]) {
      std::cerr << node << " over-committed: " << u << " of " << alloc[node] << " GPUs\n";
      ++errors;
    }
  int whole = 0, none = 0;
  for (const auto& [job, g] : gang) {
    if (g.first == 0)
      ++none;
    else if (g.first == g.second)
      ++whole;
    else {
      std::cerr << "gang " << job << " bound in part: " << g.first << "/" << g.second << "\n";
      ++errors;
    }
  }
  long total_alloc = 0, total_used = 0;
  for (const auto& [n, v] : alloc) total_alloc += v;
  for (const auto& [n, v] : used) total_used += v;
  std::cout << "verify: " << alloc.size() << " nodes, " << bound_pods << " bound pods, GPUs "
            << total_used << "/" << total_alloc << ", gangs whole " << whole << ", unbound " << none
            << ", errors " << errors << "\n";
  return errors ? 1 : 0;
}

// cycle: RunCycle on a synthetic cluster of --nodes nodes (half dgx-h100, half PCIe), a third
// of them busy, with --jobs pending gangs of 1-16 workers; prints p50 and p99 in ms.
int Cycle(const Args& a) {
  const int n = static_cast<int>(a.Int("nodes", 5000));
  const int jobs = static_cast<int>(a.Int("jobs", 200));
  const int rounds = static_cast<int>(a.Int("rounds", 50));
  const std::string dir = a.Get("topologies", ZENITH_TOPOLOGY_DIR);
  const auto dgx = Topology(dir, "dgx-h100.yaml");
  const auto pcie = Topology(dir, "pcie-4gpu-2numa.yaml");
  std::mt19937 rng(7);
  sched::Snapshot s;
  s.now = std::chrono::system_clock::now();
  for (int i = 0; i < n; ++i) {
    sched::Node node;
    node.name = "n" + std::to_string(i);
    node.topology = i % 2 == 0 ? dgx : pcie;
    node.allocatable = {static_cast<int64_t>(node.topology->gpus.size()), 224000, int64_t{2} << 40,
                        110};
    node.labels["topology.kubernetes.io/rack"] = "r" + std::to_string(i / 32);
    if (i % 3 == 0) {  // a third half used by running gangs
      const int used = static_cast<int>(node.allocatable.gpus / 2);
      for (int g = 0; g < used; ++g) node.taken_gpus.push_back(g);
      node.requested = {used, 4000, int64_t{32} << 30, 1};
      sched::RunningJob r;
      r.key = "run/" + node.name;
      r.per_pod = node.requested;
      r.pods = {{node.name, node.taken_gpus}};
      s.running.push_back(r);
    }
    s.nodes.push_back(std::move(node));
  }
  const int gpu_choices[] = {1, 2, 4, 8};
  for (int j = 0; j < jobs; ++j) {
    sched::JobRequest r;
    r.key = "bench/j" + std::to_string(j);
    r.pods = std::uniform_int_distribution<int>(1, 16)(rng);
    r.per_pod = {gpu_choices[std::uniform_int_distribution<int>(0, 3)(rng)], 1000, int64_t{1} << 30,
                 1};
    r.created = s.now - std::chrono::seconds(jobs - j);
    s.pending.push_back(std::move(r));
  }
  std::vector<double> ms;
  int64_t placed = 0;
  for (int i = 0; i < rounds; ++i) {
    auto t = Clock::now();
    auto result = sched::RunCycle(s);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    placed = result.stats.pods_placed;
  }
  std::sort(ms.begin(), ms.end());
  auto q = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  std::cout << "cycle over " << n << " nodes, " << jobs << " pending gangs (" << placed
            << " pods placed): p50 " << q(0.5) << " ms, p99 " << q(0.99) << " ms, peak RSS "
            << PeakRssKib() / 1024.0 << " MiB\n"
            << q(0.99) << "\n";
  return 0;
}

// sync: informers over --resources (a comma-separated list of nodes, pods and zenithnodes),
// started together and listed by streamed lists (--stream 1, the default) or by LIST requests
// (--stream 0); prints when each synced, the process's CPU seconds, --rounds times, each with a
// fresh client. --fields: what each object is decoded to: "scheduler" (the default: the gang
// scheduler's field masks and trims), "all-but-managed" (everything but managedFields) or
// "whole".
int Sync(const Args& a) {
  auto type_of = [](const std::string& r) {
    return r == "nodes"  ? kube::resources::Nodes()
           : r == "pods" ? kube::resources::Pods()
                         : kube::resources::Custom("zenith.ai", "v1alpha1", "zenithnodes", false,
                                                   "ZenithNode");
  };
  std::vector<std::string> names;
  for (std::string rest = a.Get("resources", "nodes,pods,zenithnodes"); !rest.empty();) {
    const size_t comma = rest.find(',');
    names.push_back(rest.substr(0, comma));
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
  }
  auto cpu = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  const bool stream = a.Int("stream", 1) != 0;
  const std::string fields = a.Get("fields", "scheduler");
  if (fields != "scheduler" && fields != "all-but-managed" && fields != "whole")
    Die("--fields: '" + fields + "' is not scheduler, all-but-managed or whole");
  for (long i = 0; i < a.Int("rounds", 3); ++i) {
    auto c = MakeClient(a);
    kube::ResumableWatchOptions o;
    o.stream_lists = stream;
    std::vector<std::unique_ptr<kube::Informer>> informers;
    for (const auto& n : names) {
      informers.push_back(std::make_unique<kube::Informer>(*c, type_of(n), o));
      kube::Informer& inf = *informers.back();
      if (fields == "all-but-managed") {
        inf.SetFields(kube::AllButManagedFields());
      } else if (fields == "scheduler" && n == "zenithnodes") {
        inf.SetFields(operator_::gang::ZenithNodeFields());
      } else if (fields == "scheduler") {
        inf.SetFields(n == "nodes" ? operator_::gang::NodeFields() : operator_::gang::PodFields());
        inf.SetTransform(n == "nodes" ? operator_::gang::TrimNode : operator_::gang::TrimPod);
      }
    }
    const double cpu0 = cpu();
    const auto t0 = Clock::now();
    for (auto& inf : informers) inf->Start();
    std::cout << (stream ? "streamed:" : "LIST:");
    for (size_t k = 0; k < informers.size(); ++k) {
      if (!informers[k]->WaitForSync(std::chrono::seconds(60))) Die("no sync: " + names[k]);
      std::cout << " " << names[k] << " " << informers[k]->Size() << " at "
                << std::chrono::duration<double>(Clock::now() - t0).count() << " s";
    }
    std::cout << ", CPU " << cpu() - cpu0 << " s\n";
    for (auto& inf : informers) inf->Stop();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: gang_bench nodes|delete-nodes|jobs|schedule|wait-bound|verify|cycle|sync "
                 "[--key value]...\n";
    return 2;
  }
  Args a;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) Die("expected --key value, got " + k);
    a.kv[k.substr(2)] = argv[i + 1];
  }
  // As the operator's ProgramMain does (http.io-threads): the default sizes the pool.
  if (Status s = common::SetHttpIoThreads(static_cast<int>(a.Int("io-threads", 4))); !s.ok())
    Die(s.ToString());
  const std::string cmd = argv[1];
  if (cmd == "nodes") return Nodes(a);
  if (cmd == "delete-nodes") return DeleteNodes(a);
  if (cmd == "jobs") return MakeJobs(a);
  if (cmd == "schedule") return Schedule(a);
  if (cmd == "wait-bound") return WaitBound(a);
  if (cmd == "verify") return Verify(a);
  if (cmd == "cycle") return Cycle(a);
  if (cmd == "sync") return Sync(a);
  Die("unknown subcommand " + cmd);
}
