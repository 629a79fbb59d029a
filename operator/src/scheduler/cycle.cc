#include "zenith/operator/scheduler/cycle.h"

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "cluster_state.h"
#include "explain.h"
#include "placement.h"
#include "victims.h"
#include "zenith/operator/scheduler/node_filter.h"

namespace zenith::operator_::scheduler {

std::string_view WaitReasonName(WaitReason reason) {
  switch (reason) {
    case WaitReason::kInvalidRequest:
      return "InvalidRequest";
    case WaitReason::kNoEligibleNodes:
      return "NoEligibleNodes";
    case WaitReason::kInsufficientGpus:
      return "InsufficientGpus";
    case WaitReason::kNoConnectedSet:
      return "NoConnectedGpuSet";
    case WaitReason::kInsufficientCpuMemory:
      return "InsufficientCpuMemory";
    case WaitReason::kNoSharedDomain:
      return "NoSharedDomain";
    case WaitReason::kQuotaExceeded:
      return "QuotaExceeded";
    case WaitReason::kBlockedByStarvedJob:
      return "BlockedByStarvedJob";
    case WaitReason::kPreempting:
      return "Preempting";
  }
  return "Unknown";
}

namespace {

using internal::ClusterState;
using internal::GangPhrase;
using internal::GangPlacement;
using internal::GangRequest;
using internal::Mask;
using internal::NodeState;
using internal::Plural;

struct QueueState {
  int weight = 1;
  std::optional<int64_t> quota;
  int64_t used = 0;  // GPUs held by its running jobs plus those placed this cycle
};

// Which nodes pass CheckNode for one job shape, and why the others did not.
struct Eligibility {
  std::vector<char> ok;   // by node id
  std::vector<int> list;  // ids that pass, ascending
  std::array<int, kFilterReasonCount> rejected{};
  // Label → value → eligible ids carrying it; built on first use, fixed for the cycle.
  mutable std::map<std::string, std::map<std::string, std::vector<int>>> domains;
};

class Cycle {
 public:
  Cycle(const Snapshot& snap, const SchedulerOptions& options)
      : snap_(snap), o_(options), state_(snap.nodes, result_.warnings) {}

  CycleResult Run() {
    SetUpQueues();
    std::vector<const JobRequest*> valid = Validate();
    Order(valid);
    for (size_t id = 0; id < state_.size(); ++id) {
      const int64_t free = state_.state(static_cast<int>(id)).free.gpus;
      result_.stats.free_gpus += free;
      if (free > 0 && free < state_.node(static_cast<int>(id)).allocatable.gpus) {
        result_.stats.free_gpus_fragmented += free;
      }
    }
    return std::move(result_);
  }

 private:
  void SetUpQueues() {
    for (const Queue& q : snap_.queues) {
      if (queues_.count(q.name)) {
        result_.warnings.push_back("queue " + q.name + ": listed twice, second ignored");
        continue;
      }
      queues_[q.name] = QueueState{std::max(q.weight, 1), q.gpu_quota, 0};
    }
    queues_.try_emplace(kDefaultQueue, QueueState{});
    for (size_t i = 0; i < snap_.running.size(); ++i) {
      const RunningJob& r = snap_.running[i];
      if (auto it = queues_.find(r.queue); it != queues_.end()) it->second.used += r.TotalGpus();
    }
  }

  void Wait(const JobRequest& job, WaitReason reason, std::string message) {
    result_.waiting.push_back({job.key, reason, std::move(message)});
  }

  std::vector<const JobRequest*> Validate() {
    std::vector<const JobRequest*> out;
    std::unordered_set<std::string> seen;
    for (const JobRequest& j : snap_.pending) {
      std::string why;
      if (j.key.empty()) {
        why = "job has no key";
      } else if (!seen.insert(j.key).second) {
        why = "job " + j.key + " is listed twice";
      } else if (j.pods < 1) {
        why = "minAvailable must be at least 1, got " + std::to_string(j.pods);
      } else if (j.per_pod.gpus < 0 || j.per_pod.gpus > internal::kMaxGpus) {
        why = "GPUs per pod must be 0 to 64, got " + std::to_string(j.per_pod.gpus);
      } else if (j.per_pod.cpu_millis < 0 || j.per_pod.memory_bytes < 0) {
        why = "negative CPU or memory request";
      } else if (!queues_.count(j.queue)) {
        why = "queue " + j.queue + " does not exist";
      }
      if (!why.empty()) {
        Wait(j, WaitReason::kInvalidRequest, why);
        continue;
      }
      out.push_back(&j);
    }
    return out;
  }

  bool Starved(const JobRequest& j) const {
    const std::chrono::seconds limit = j.max_wait.value_or(o_.default_max_wait);
    return limit.count() > 0 && snap_.now - j.created >= limit;
  }

  // Starving first, then priority, then fair share between queues, then age, then key.
  void Order(const std::vector<const JobRequest*>& jobs) {
    struct Entry {
      const JobRequest* job;
      bool starved;
    };
    std::map<std::string, std::vector<Entry>> by_queue;
    for (const JobRequest* j : jobs) by_queue[j->queue].push_back({j, Starved(*j)});
    auto before = [](const Entry& a, const Entry& b) {
      if (a.starved != b.starved) return a.starved;
      if (a.job->priority != b.job->priority) return a.job->priority > b.job->priority;
      if (a.job->created != b.job->created) return a.job->created < b.job->created;
      return a.job->key < b.job->key;
    };
    struct Cursor {
      std::string queue;
      std::vector<Entry>* entries;
      size_t next = 0;
    };
    std::vector<Cursor> cursors;
    for (auto& [name, entries] : by_queue) {
      std::sort(entries.begin(), entries.end(), before);
      cursors.push_back({name, &entries, 0});
    }
    while (true) {
      Cursor* best = nullptr;
      for (Cursor& c : cursors) {
        if (c.next >= c.entries->size()) continue;
        if (best == nullptr) {
          best = &c;
          continue;
        }
        const Entry& a = (*c.entries)[c.next];
        const Entry& b = (*best->entries)[best->next];
        if (a.starved != b.starved) {
          if (a.starved) best = &c;
          continue;
        }
        if (a.job->priority != b.job->priority) {
          if (a.job->priority > b.job->priority) best = &c;
          continue;
        }
        // Lower used/weight first: compare used_a * weight_b with used_b * weight_a.
        const QueueState& qa = queues_.at(c.queue);
        const QueueState& qb = queues_.at(best->queue);
        const __int128 sa = static_cast<__int128>(qa.used) * qb.weight;
        const __int128 sb = static_cast<__int128>(qb.used) * qa.weight;
        if (sa != sb) {
          if (sa < sb) best = &c;
          continue;
        }
        if (a.job->created != b.job->created) {
          if (a.job->created < b.job->created) best = &c;
          continue;
        }
        if (a.job->key < b.job->key) best = &c;
      }
      if (best == nullptr) break;
      const Entry e = (*best->entries)[best->next++];
      Schedule(*e.job, e.starved);
    }
  }

  const Eligibility& EligibilityFor(const JobRequest& job) {
    std::string key = FilterKey(job);
    auto it = eligibility_.find(key);
    if (it != eligibility_.end()) return *it->second;
    auto e = std::make_unique<Eligibility>();
    e->ok.assign(state_.size(), 0);
    for (size_t id = 0; id < state_.size(); ++id) {
      FilterReason r = CheckNode(state_.node(static_cast<int>(id)), job);
      if (r == FilterReason::kFits) {
        e->ok[id] = 1;
        e->list.push_back(static_cast<int>(id));
      } else {
        ++e->rejected[static_cast<int>(r)];
      }
    }
    return *eligibility_.emplace(std::move(key), std::move(e)).first->second;
  }

  // Label value → eligible node ids carrying it.
  const std::map<std::string, std::vector<int>>& Domains(const Eligibility& e,
                                                         const std::string& label) {
    auto cached = e.domains.find(label);
    if (cached != e.domains.end()) return cached->second;
    std::map<std::string, std::vector<int>>& out = e.domains[label];
    for (int id : e.list) {
      const auto& labels = state_.node(id).labels;
      if (auto it = labels.find(label); it != labels.end()) out[it->second].push_back(id);
    }
    return out;
  }

  // Domains whose free GPUs could hold the gang, smallest first (best fit between domains).
  std::vector<const std::vector<int>*> DomainOrder(
      const std::map<std::string, std::vector<int>>& domains, const JobRequest& job) {
    std::vector<std::pair<int64_t, const std::vector<int>*>> order;
    for (const auto& [value, ids] : domains) {
      int64_t free = 0;
      for (int id : ids) free += state_.state(id).free.gpus;
      if (free >= job.TotalGpus()) order.emplace_back(free, &ids);
    }
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<const std::vector<int>*> out;
    for (const auto& [free, ids] : order) out.push_back(ids);
    return out;
  }

  // The value of `label` on the nodes a partly bound gang holds, in `value` (empty when none of
  // those nodes is in the snapshot any more). False when they carry no value or several, so
  // no domain can hold the whole gang.
  bool BoundDomain(const JobRequest& job, const std::string& label, std::string* value) const {
    value->clear();
    for (const std::string& name : job.bound_nodes) {
      const int id = state_.IdOf(name);
      if (id < 0) continue;
      const auto& labels = state_.node(id).labels;
      auto it = labels.find(label);
      if (it == labels.end() || (!value->empty() && *value != it->second)) return false;
      *value = it->second;
    }
    return true;
  }

  // One placement attempt honouring the job's domain rules; state holds it on success.
  std::optional<GangPlacement> Attempt(const JobRequest& job, const Eligibility& e) {
    GangRequest req{&job, &e.ok, nullptr};
    auto in_domains = [&](const std::string& label) -> std::optional<GangPlacement> {
      const auto& domains = Domains(e, label);
      int tries = 0;
      for (const std::vector<int>* ids : DomainOrder(domains, job)) {
        if (tries++ >= o_.max_domain_tries) break;
        req.candidates = ids;
        if (auto p = internal::PlaceGang(state_, req, o_)) return p;
      }
      return std::nullopt;
    };
    // The rest of a partly bound gang goes where its bound pods are: into their domain of the
    // sameNodeLabel (required), or of the first pack label (preferred).
    auto in_bound_domain = [&](const std::string& label,
                               const std::string& value) -> std::optional<GangPlacement> {
      const auto& domains = Domains(e, label);
      auto it = domains.find(value);
      if (it == domains.end()) return std::nullopt;
      req.candidates = &it->second;
      return internal::PlaceGang(state_, req, o_);
    };
    if (!job.bound_nodes.empty()) {
      std::string value;
      if (!job.topology.same_node_label.empty()) {
        if (!BoundDomain(job, job.topology.same_node_label, &value)) return std::nullopt;
        if (!value.empty()) return in_bound_domain(job.topology.same_node_label, value);
        return in_domains(job.topology.same_node_label);  // its bound nodes are gone
      }
      if (job.topology.placement == PlacementPolicy::kPack) {
        for (const std::string& label : o_.pack_domain_labels) {
          if (!BoundDomain(job, label, &value) || value.empty()) continue;
          if (auto p = in_bound_domain(label, value)) return p;
          break;
        }
      }
      req.candidates = e.list.size() * 8 < state_.size() ? &e.list : nullptr;
      return internal::PlaceGang(state_, req, o_);
    }
    if (!job.topology.same_node_label.empty()) return in_domains(job.topology.same_node_label);
    if (job.topology.placement == PlacementPolicy::kPack && job.pods > 1) {
      for (const std::string& label : o_.pack_domain_labels) {
        if (Domains(e, label).empty()) continue;
        if (auto p = in_domains(label)) return p;
        break;
      }
    }
    // A short eligible list is cheaper to scan than the free-GPU index with most nodes skipped.
    req.candidates = e.list.size() * 8 < state_.size() ? &e.list : nullptr;
    return internal::PlaceGang(state_, req, o_);
  }

  std::vector<PodPlacement> ToPods(const GangPlacement& p) const {
    std::vector<PodPlacement> out;
    for (const auto& [id, set] : p) out.push_back({state_.node(id).name, state_.Indices(id, set)});
    return out;
  }

  void Schedule(const JobRequest& job, bool starved) {
    QueueState& q = queues_.at(job.queue);
    if (blocked_by_ && job.per_pod.gpus > 0 && job.priority <= blocked_priority_) {
      Wait(job, WaitReason::kBlockedByStarvedJob,
           "waiting behind " + *blocked_by_ +
               ", which passed its maximum wait and is gathering free GPUs first");
      return;
    }
    if (q.quota && q.used + job.TotalGpus() > *q.quota) {
      Wait(job, WaitReason::kQuotaExceeded, internal::QuotaMessage(job, q.used, *q.quota));
      return;
    }
    const Eligibility& e = EligibilityFor(job);
    if (!e.list.empty()) {
      std::optional<GangPlacement> p;
      if (!KnownNotToFit(job)) p = Attempt(job, e);
      if (p) {
        state_.Commit();
        q.used += job.TotalGpus();
        result_.placed.push_back({job.key, ToPods(*p)});
        result_.stats.pods_placed += job.pods;
        result_.stats.gpus_placed += job.TotalGpus();
        return;
      }
      if (o_.preemption && MayPreempt(job) && Preempt(job, e)) {
        q.used += job.TotalGpus();
        return;
      }
    }
    auto [reason, message] = Explain(job, e);
    Wait(job, reason, std::move(message));
    if (starved && job.per_pod.gpus > 0 && !blocked_by_) {
      blocked_by_ = job.key;
      blocked_priority_ = job.priority;
    }
  }

  // ---- Preemption -------------------------------------------------------------------------

  // A failed search changes nothing, so a job of the same shape and no higher priority would
  // fail it again until the state changes: skip it (keeps a full cluster's cycle short).
  static std::string ShapeKey(const JobRequest& job) {
    return FilterKey(job) + '\x1a' + std::to_string(static_cast<int>(job.topology.nvlink)) +
           std::to_string(static_cast<int>(job.topology.placement)) + std::to_string(job.pods) +
           '\x1a' + job.topology.same_node_label + '\x1a' + Join(job.bound_nodes);
  }
  static std::string Join(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += n + ',';
    return out;
  }
  bool MayPreempt(const JobRequest& job) {
    auto it = preempt_failed_.find(ShapeKey(job));
    return it == preempt_failed_.end() || it->second.first != state_.version() ||
           job.priority > it->second.second;
  }
  void PreemptFailed(const JobRequest& job) {
    auto& [version, priority] = preempt_failed_[ShapeKey(job)];
    if (version != state_.version() || job.priority > priority) priority = job.priority;
    version = state_.version();
  }

  // Places the job in a trial where `victims` are gone; leaves the state as it found it.
  std::optional<GangPlacement> TrialWithout(const JobRequest& job, const Eligibility& e,
                                            const std::vector<int>& victims) {
    const size_t mark = state_.JournalMark();
    Release(victims);
    auto p = Attempt(job, e);
    state_.RollbackTo(mark);
    return p;
  }

  void Release(const std::vector<int>& victims) {
    for (int v : victims) {
      const RunningJob& r = snap_.running[v];
      for (const PodPlacement& pod : r.pods) {
        const int id = state_.IdOf(pod.node);
        if (id >= 0) state_.Release(id, r.per_pod, pod.gpus);
      }
    }
  }

  static int64_t Gpus(const std::vector<int>& victims, const std::vector<RunningJob>& running) {
    int64_t n = 0;
    for (int v : victims) n += running[v].TotalGpus();
    return n;
  }

  bool Preempt(const JobRequest& job, const Eligibility& e) {
    // Candidates: whole preemptible gangs of lower priority holding something on a node the
    // job could use, cheapest (fewest GPUs) first.
    std::vector<int> cand;
    for (size_t i = 0; i < snap_.running.size(); ++i) {
      const RunningJob& r = snap_.running[i];
      if (r.terminating || !r.preemptible || r.priority >= job.priority || evicted_.count(i))
        continue;
      bool relevant = false;
      for (const PodPlacement& pod : r.pods) {
        const int id = state_.IdOf(pod.node);
        if (id >= 0 && e.ok[id]) relevant = true;
      }
      if (relevant) cand.push_back(static_cast<int>(i));
    }
    if (cand.empty()) {
      PreemptFailed(job);
      return false;
    }
    const auto& running = snap_.running;
    std::stable_sort(cand.begin(), cand.end(), [&](int a, int b) {
      if (running[a].TotalGpus() != running[b].TotalGpus()) {
        return running[a].TotalGpus() < running[b].TotalGpus();
      }
      if (running[a].priority != running[b].priority)
        return running[a].priority < running[b].priority;
      return running[a].key < running[b].key;
    });
    auto chosen_or = internal::ChooseVictims(
        cand, [&](int v) { return running[v].TotalGpus(); },
        [&](const std::vector<int>& v) { return TrialWithout(job, e, v).has_value(); },
        o_.max_preemption_trials);
    if (!chosen_or) {  // even evicting every candidate is not enough
      PreemptFailed(job);
      return false;
    }
    const std::vector<int> chosen = std::move(*chosen_or);

    // Commit: the job is nominated on the room the victims leave; until they are gone every
    // node keeps the smaller of what was free before and after, so nothing else this cycle
    // counts on GPUs the victims still hold.
    std::vector<std::pair<int, NodeState>> before;
    auto remember = [&](int id) {
      for (const auto& [seen, s] : before) {
        if (seen == id) return;
      }
      before.emplace_back(id, state_.state(id));
    };
    for (int v : chosen) {
      for (const PodPlacement& pod : running[v].pods) {
        if (int id = state_.IdOf(pod.node); id >= 0) remember(id);
      }
    }
    const size_t mark = state_.JournalMark();
    Release(chosen);
    auto placement = Attempt(job, e);
    if (!placement) {  // cannot happen: the same trial succeeded
      state_.RollbackTo(mark);
      return false;
    }
    for (const auto& [id, set] : *placement) remember(id);
    std::vector<std::pair<int, NodeState>> merged;
    for (const auto& [id, old] : before) {
      const NodeState& now = state_.state(id);
      NodeState m;
      m.mask = old.mask & now.mask;
      m.free.gpus = std::min(old.free.gpus, now.free.gpus);
      m.free.cpu_millis = std::min(old.free.cpu_millis, now.free.cpu_millis);
      m.free.memory_bytes = std::min(old.free.memory_bytes, now.free.memory_bytes);
      m.free.pods = std::min(old.free.pods, now.free.pods);
      merged.emplace_back(id, m);
    }
    state_.RollbackTo(mark);
    for (const auto& [id, m] : merged) state_.Set(id, m);
    state_.Commit();

    PreemptionDecision d;
    d.job = job.key;
    d.gpus_evicted = Gpus(chosen, running);
    for (int v : chosen) {
      d.victims.push_back(running[v].key);
      evicted_.insert(v);
    }
    d.reason = "preempted for " + job.key + " (priority " + std::to_string(job.priority) +
               "), which needs " + GangPhrase(job) + "; evicting " +
               Plural(static_cast<int64_t>(chosen.size()), "gang", "gangs") + " frees " +
               std::to_string(d.gpus_evicted) + " GPUs";
    d.nominated = ToPods(*placement);
    Wait(job, WaitReason::kPreempting,
         "nominated after evicting " + std::to_string(chosen.size()) + " lower-priority " +
             (chosen.size() == 1 ? "gang" : "gangs") + " (" + std::to_string(d.gpus_evicted) +
             " GPUs)");
    result_.preemptions.push_back(std::move(d));
    return true;
  }

  // ---- Room: how many of a job's pods each eligible node could take now --------------------

  std::string RoomKey(const JobRequest& job, bool connected, bool cpu_memory) const {
    return FilterKey(job) + '\x1a' + std::to_string(static_cast<int>(job.topology.nvlink)) +
           (connected ? "c" : "-") + (cpu_memory ? "m" : "-");
  }

  // Per position in e.list, capped at 64; cached until the state next changes.
  const std::vector<uint8_t>& RoomPerNode(const JobRequest& job, const Eligibility& e,
                                          bool connected, bool cpu_memory) {
    RoomCache& c = room_[RoomKey(job, connected, cpu_memory)];
    if (c.valid && c.version == state_.version()) return c.per_node;
    c.per_node.resize(e.list.size());
    for (size_t i = 0; i < e.list.size(); ++i) {
      c.per_node[i] = static_cast<uint8_t>(
          internal::PodCapacity(state_, e.list[i], job, internal::kMaxGpus, connected, cpu_memory));
    }
    c.version = state_.version();
    c.valid = true;
    return c.per_node;
  }

  int64_t Room(const JobRequest& job, const Eligibility& e, bool connected, bool cpu_memory,
               int* nodes) {
    const std::vector<uint8_t>& caps = RoomPerNode(job, e, connected, cpu_memory);
    int64_t pods = 0;
    *nodes = 0;
    for (uint8_t c : caps) {
      if (c > 0) ++*nodes;
      pods += std::min<int64_t>(c, job.pods);
    }
    return pods;
  }

  // True when a room count from earlier in this state already shows the gang cannot fit.
  bool KnownNotToFit(const JobRequest& job) {
    auto it = room_.find(RoomKey(job, true, true));
    if (it == room_.end() || !it->second.valid || it->second.version != state_.version()) {
      return false;
    }
    int64_t pods = 0;
    for (uint8_t c : it->second.per_node) pods += std::min<int64_t>(c, job.pods);
    return pods < job.pods;
  }

  // ---- Explanations -----------------------------------------------------------------------

  // Counts what the explanation needs; ExplainWait words it.
  std::pair<WaitReason, std::string> Explain(const JobRequest& job, const Eligibility& e) {
    const QueueState& q = queues_.at(job.queue);
    internal::WaitFacts f;
    f.nodes_total = static_cast<int>(state_.size());
    f.nodes_eligible = static_cast<int>(e.list.size());
    f.rejected = e.rejected;
    f.queue = job.queue;
    f.queue_used = q.used;
    f.queue_quota = q.quota;
    if (!e.list.empty()) {
      f.room = Room(job, e, true, true, &f.nodes_with_room);
      if (f.room < job.pods) {
        int nodes = 0;
        if (job.topology.nvlink == NvlinkPolicy::kRequired) {
          const int64_t pods = Room(job, e, false, true, &nodes);
          f.room_unconnected = std::make_pair(pods, nodes);
        }
        f.room_gpus_only = Room(job, e, true, false, &nodes);
      } else if (!job.topology.same_node_label.empty()) {
        internal::WaitFacts::Domain d;
        d.label = job.topology.same_node_label;
        const auto& domains = Domains(e, d.label);
        d.count = static_cast<int>(domains.size());
        const std::vector<uint8_t>& caps = RoomPerNode(job, e, true, true);
        std::unordered_map<int, int> cap_of;
        for (size_t i = 0; i < e.list.size(); ++i) cap_of[e.list[i]] = caps[i];
        for (const auto& [value, ids] : domains) {
          int64_t pods = 0;
          for (int id : ids) pods += std::min(cap_of[id], job.pods);
          if (pods > d.best_room) {
            d.best_room = pods;
            d.best = value;
          }
        }
        f.domain = std::move(d);
      }
    }
    return internal::ExplainWait(job, f);
  }

  const Snapshot& snap_;
  const SchedulerOptions& o_;
  CycleResult result_;
  ClusterState state_;
  std::map<std::string, QueueState> queues_;
  std::unordered_map<std::string, std::unique_ptr<Eligibility>> eligibility_;
  struct RoomCache {
    bool valid = false;
    uint64_t version = 0;
    std::vector<uint8_t> per_node;
  };
  std::unordered_map<std::string, RoomCache> room_;
  std::unordered_map<std::string, std::pair<uint64_t, int32_t>> preempt_failed_;  // version, prio
  std::unordered_set<size_t> evicted_;
  std::optional<std::string> blocked_by_;
  int32_t blocked_priority_ = 0;
};

}  // namespace

CycleResult RunCycle(const Snapshot& snapshot, const SchedulerOptions& options) {
  return Cycle(snapshot, options).Run();
}

}  // namespace zenith::operator_::scheduler
