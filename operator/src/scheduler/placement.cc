#include "placement.h"

#include <algorithm>

namespace zenith::operator_::scheduler::internal {

namespace {

class GangPlacer {
 public:
  GangPlacer(ClusterState& state, const GangRequest& r, const SchedulerOptions& o)
      : s_(state), r_(r), job_(*r.job), o_(o), k_(static_cast<int>(job_.per_pod.gpus)) {
    need_connected_ = job_.topology.nvlink == NvlinkPolicy::kRequired;
    want_connected_ = job_.topology.nvlink == NvlinkPolicy::kPreferred;
  }

  std::optional<GangPlacement> Run() {
    const size_t mark = s_.JournalMark();
    GangPlacement out;
    for (int pod = 0; pod < job_.pods; ++pod) {
      const int remaining = job_.pods - pod;
      std::optional<std::pair<int, SetChoice>> pick = Pick(remaining);
      if (!pick) {
        s_.RollbackTo(mark);
        return std::nullopt;
      }
      auto [id, choice] = *pick;
      s_.Take(id, job_.per_pod, choice.set);
      if (std::find(used_.begin(), used_.end(), id) == used_.end()) used_.push_back(id);
      out.emplace_back(id, choice.set);
    }
    return out;
  }

 private:
  // The node's set for one more pod, or none when the pod does not fit there now.
  std::optional<SetChoice> Fit(int id) const {
    if (!(*r_.eligible)[id] || !s_.ResourcesFit(id, job_.per_pod)) return std::nullopt;
    if (k_ == 0) return SetChoice{};
    return s_.Choose(id, k_, need_connected_);
  }
  bool Good(int id, const SetChoice& c) const {
    return k_ == 0 || s_.IsBestQuality(id, k_, c, want_connected_, job_.topology.numa_aligned);
  }
  bool Used(int id) const { return std::find(used_.begin(), used_.end(), id) != used_.end(); }

  // Scans nodes in the order `visit` produces: the first with a best-quality set wins; a
  // fitting node with a worse set is kept and wins once `quality_lookahead` more were seen.
  struct Scan {
    explicit Scan(const GangPlacer& placer) : p(placer) {}
    const GangPlacer& p;
    std::optional<std::pair<int, SetChoice>> best;
    bool best_good = false;
    int since_fallback = 0;
    bool Offer(int id) {  // true: stop scanning
      auto c = p.Fit(id);
      if (!c) return best && ++since_fallback > p.o_.quality_lookahead;
      if (p.Good(id, *c)) {
        best = {id, *c};
        best_good = true;
        return true;
      }
      if (!best) best = {id, *c};
      return ++since_fallback > p.o_.quality_lookahead;
    }
  };

  // Visits nodes with free GPU counts in [lo, hi], ascending or descending, ids ascending
  // within a count; stops when `f` says so. Returns whether it stopped.
  template <typename F>
  bool Visit(int lo, int hi, bool ascending, F&& f) const {
    lo = std::max(lo, 0);
    hi = std::min(hi, kMaxGpus);
    if (lo > hi) return false;
    if (r_.candidates == nullptr) {
      for (int c = ascending ? lo : hi; ascending ? c <= hi : c >= lo; c += ascending ? 1 : -1) {
        for (int id : s_.Bucket(c)) {
          if (f(id)) return true;
        }
      }
      return false;
    }
    std::vector<std::pair<int, int>> order;  // (free, id)
    for (int id : *r_.candidates) {
      const int free = static_cast<int>(std::min<int64_t>(s_.state(id).free.gpus, kMaxGpus));
      if (free >= lo && free <= hi) order.emplace_back(ascending ? free : -free, id);
    }
    std::sort(order.begin(), order.end());
    for (auto [free, id] : order) {
      if (f(id)) return true;
    }
    return false;
  }

  bool InCandidates(int id) const {
    return r_.candidates == nullptr ||
           std::find(r_.candidates->begin(), r_.candidates->end(), id) != r_.candidates->end();
  }

  std::optional<std::pair<int, SetChoice>> Pick(int remaining) const {
    for (const std::string& name : job_.topology.preferred_nodes) {
      const int id = s_.IdOf(name);
      if (id < 0 || !InCandidates(id)) continue;
      if (job_.topology.placement == PlacementPolicy::kSpread && Used(id)) continue;
      if (auto c = Fit(id)) return std::make_pair(id, *c);
    }
    Scan used_scan{*this};
    for (int id : used_) {
      if (used_scan.Offer(id)) break;
    }
    if (job_.topology.placement == PlacementPolicy::kPack) {
      // Pack: keep filling the nodes this gang already uses, then the node that best fits
      // everything still to place, else the emptiest node that fits one more pod.
      if (used_scan.best) return used_scan.best;
      Scan scan{*this};
      const int target = std::min(remaining * k_, kMaxGpus);
      if (!Visit(target, kMaxGpus, true, [&](int id) { return scan.Offer(id); })) {
        Visit(k_, target - 1, false, [&](int id) { return scan.Offer(id); });
      }
      return scan.best;
    }
    // Spread: a node the gang does not use yet, best fit; else share one.
    Scan scan{*this};
    Visit(k_, kMaxGpus, true, [&](int id) { return !Used(id) && scan.Offer(id); });
    return scan.best ? scan.best : used_scan.best;
  }

  ClusterState& s_;
  const GangRequest& r_;
  const JobRequest& job_;
  const SchedulerOptions& o_;
  const int k_;
  bool need_connected_ = false;
  bool want_connected_ = false;
  std::vector<int> used_;
};

}  // namespace

std::optional<GangPlacement> PlaceGang(ClusterState& state, const GangRequest& request,
                                       const SchedulerOptions& options) {
  if (request.job->pods < 1 || request.job->per_pod.gpus < 0 ||
      request.job->per_pod.gpus > kMaxGpus) {
    return std::nullopt;
  }
  return GangPlacer(state, request, options).Run();
}

int PodCapacity(const ClusterState& state, int id, const JobRequest& job, int limit, bool connected,
                bool cpu_memory) {
  const int k = static_cast<int>(job.per_pod.gpus);
  const bool need_connected = connected && job.topology.nvlink == NvlinkPolicy::kRequired;
  // Counted on a copy of the node's free resources: no journal, no index churn.
  NodeState s = state.state(id);
  int count = 0;
  while (count < limit && s.free.pods >= 1 && s.free.gpus >= k &&
         (!cpu_memory || (s.free.cpu_millis >= job.per_pod.cpu_millis &&
                          s.free.memory_bytes >= job.per_pod.memory_bytes))) {
    if (k > 0) {
      auto c = state.ChooseFrom(id, s.mask, k, need_connected);
      if (!c) break;
      s.mask &= ~c->set;
      s.free.gpus -= k;
    }
    if (cpu_memory) {
      s.free.cpu_millis -= job.per_pod.cpu_millis;
      s.free.memory_bytes -= job.per_pod.memory_bytes;
    }
    s.free.pods -= 1;
    ++count;
  }
  return count;
}

}  // namespace zenith::operator_::scheduler::internal
