#include "cluster_state.h"

#include <algorithm>
#include <bit>
#include <map>

namespace zenith::operator_::scheduler::internal {

namespace {

// Everything the chooser reads (indices, NUMA nodes, links), so nodes of one machine type
// share a chooser and its memo.
std::string Fingerprint(const deviceplugin::NodeTopology& t) {
  std::string f = "T";
  for (const auto& g : t.gpus)
    f += std::to_string(g.index) + ":" + std::to_string(g.numa_node) + ",";
  f += "|";
  for (const auto& row : t.nvlink) {
    for (int l : row) f += std::to_string(l) + ",";
  }
  return f;
}

}  // namespace

int ClusterState::TopologyFor(const Node& node, std::vector<std::string>& warnings) {
  deviceplugin::NodeTopology synthetic;
  const deviceplugin::NodeTopology* t = nullptr;
  std::string fp;
  if (node.topology) {
    t = &*node.topology;
    fp = Fingerprint(*t);
  } else {
    // No published topology: allocatable GPUs 0..n-1, no NVLink, NUMA unknown.
    const int n = static_cast<int>(std::clamp<int64_t>(node.allocatable.gpus, 0, kMaxGpus));
    if (n == 0) return -1;
    fp = "B" + std::to_string(n);
    if (auto it = topo_by_fingerprint_.find(fp); it != topo_by_fingerprint_.end())
      return it->second;
    for (int i = 0; i < n; ++i) {
      deviceplugin::Gpu g;
      g.index = i;
      g.uuid = "GPU-unpublished-" + std::to_string(i);
      synthetic.gpus.push_back(g);
    }
    deviceplugin::ResetNvlinkMatrix(synthetic);
    t = &synthetic;
  }
  if (auto it = topo_by_fingerprint_.find(fp); it != topo_by_fingerprint_.end()) return it->second;
  auto chooser = deviceplugin::GpuSetChooser::Create(*t);
  if (!chooser.ok()) {
    warnings.push_back("node " + node.name + ": topology unusable, its GPUs are not scheduled: " +
                       chooser.status().message());
    return -1;
  }
  TopologyInfo info;
  info.chooser = std::move(*chooser);
  std::map<int, int> per_numa;
  for (const auto& g : t->gpus) {
    info.index.push_back(g.index);
    info.max_per_numa = std::max(info.max_per_numa, ++per_numa[g.numa_node]);
  }
  topologies_.push_back(std::move(info));
  const int id = static_cast<int>(topologies_.size()) - 1;
  topo_by_fingerprint_.emplace(fp, id);
  return id;
}

ClusterState::ClusterState(const std::vector<Node>& nodes, std::vector<std::string>& warnings)
    : buckets_(kMaxGpus + 1) {
  for (const Node& n : nodes) nodes_.push_back(&n);
  std::stable_sort(nodes_.begin(), nodes_.end(),
                   [](const Node* a, const Node* b) { return a->name < b->name; });
  // A duplicate name would let two entries hand out the same GPUs: keep the first.
  std::vector<const Node*> unique;
  for (const Node* n : nodes_) {
    if (!unique.empty() && unique.back()->name == n->name) {
      warnings.push_back("node " + n->name + ": listed twice in the snapshot, second ignored");
      continue;
    }
    unique.push_back(n);
  }
  nodes_ = std::move(unique);
  state_.resize(nodes_.size());
  topo_of_.resize(nodes_.size());
  for (size_t id = 0; id < nodes_.size(); ++id) {
    const Node& n = *nodes_[id];
    id_of_.emplace(n.name, static_cast<int>(id));
    NodeState& s = state_[id];
    s.free = n.allocatable;
    s.free -= n.requested;
    const int topo = TopologyFor(n, warnings);
    topo_of_[id] = topo;
    if (topo >= 0) {
      const auto& index = topologies_[topo].index;
      for (size_t p = 0; p < index.size(); ++p) {
        const bool taken =
            std::find(n.taken_gpus.begin(), n.taken_gpus.end(), index[p]) != n.taken_gpus.end();
        const bool healthy = !n.topology || n.topology->gpus[p].healthy;
        if (!taken && healthy) s.mask |= Mask{1} << p;
      }
    }
    s.free.gpus = std::clamp<int64_t>(s.free.gpus, 0, std::popcount(s.mask));
    buckets_[s.free.gpus].insert(static_cast<int>(id));
  }
}

int ClusterState::IdOf(const std::string& name) const {
  auto it = id_of_.find(name);
  return it == id_of_.end() ? -1 : it->second;
}

std::vector<int> ClusterState::Indices(int id, Mask set) const {
  std::vector<int> out;
  const int topo = topo_of_[id];
  if (topo < 0) return out;
  for (Mask m = set; m != 0; m &= m - 1)
    out.push_back(topologies_[topo].index[std::countr_zero(m)]);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<SetChoice> ClusterState::Choose(int id, int k, bool need_connected) const {
  if (state_[id].free.gpus < k) return std::nullopt;
  return ChooseFrom(id, state_[id].mask, k, need_connected);
}

std::optional<SetChoice> ClusterState::ChooseFrom(int id, Mask free, int k,
                                                  bool need_connected) const {
  const int topo = topo_of_[id];
  if (topo < 0 || k < 1 || std::popcount(free) < k) return std::nullopt;
  const MemoKey key{topo, k, need_connected, free};
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  const TopologyInfo& info = topologies_[topo];
  std::vector<int> available;
  for (Mask m = free; m != 0; m &= m - 1) available.push_back(info.index[std::countr_zero(m)]);
  std::optional<SetChoice> out;
  bool feasible = true;
  if (need_connected) {
    auto has = info.chooser->HasFullyConnectedSet(available, k);
    feasible = has.ok() && *has;
  }
  if (feasible) {
    auto set = info.chooser->Choose({available, {}, k});
    if (set.ok() && (!need_connected || set->score.fully_connected)) {
      SetChoice c;
      for (int gpu : set->gpus) {
        auto pos = std::find(info.index.begin(), info.index.end(), gpu) - info.index.begin();
        c.set |= Mask{1} << pos;
      }
      c.fully_connected = set->score.fully_connected;
      c.numa_nodes = set->score.numa_nodes;
      out = c;
    }
  }
  memo_.emplace(key, out);
  return out;
}

bool ClusterState::IsBestQuality(int id, int k, const SetChoice& c, bool want_connected,
                                 bool want_numa) const {
  const int topo = topo_of_[id];
  if (topo < 0) return true;
  const TopologyInfo& info = topologies_[topo];
  if (want_connected && !c.fully_connected && k > 1) {
    const int n = static_cast<int>(info.index.size());
    const Mask all = n == 64 ? ~Mask{0} : (Mask{1} << n) - 1;
    const MemoKey key{topo, k, true, all};
    auto it = connected_possible_.find(key);
    if (it == connected_possible_.end()) {
      auto has = info.chooser->HasFullyConnectedSet(info.index, k);
      it = connected_possible_.emplace(key, has.ok() && *has).first;
    }
    if (it->second) return false;
  }
  if (want_numa && info.max_per_numa > 0) {
    const int least = (k + info.max_per_numa - 1) / info.max_per_numa;
    if (c.numa_nodes > least) return false;
  }
  return true;
}

bool ClusterState::ResourcesFit(int id, const Resources& p) const {
  const Resources& f = state_[id].free;
  return f.gpus >= p.gpus && f.cpu_millis >= p.cpu_millis && f.memory_bytes >= p.memory_bytes &&
         f.pods >= 1;
}

void ClusterState::Reindex(int id, int old_free) {
  const int now = static_cast<int>(std::clamp<int64_t>(state_[id].free.gpus, 0, kMaxGpus));
  if (now == old_free) return;
  buckets_[old_free].erase(id);
  buckets_[now].insert(id);
}

void ClusterState::Set(int id, const NodeState& s) {
  const int old = static_cast<int>(std::clamp<int64_t>(state_[id].free.gpus, 0, kMaxGpus));
  journal_.emplace_back(id, state_[id]);
  state_[id] = s;
  Reindex(id, old);
}

void ClusterState::Take(int id, const Resources& per_pod, Mask set) {
  NodeState s = state_[id];
  Resources r = per_pod;
  r.pods = 1;
  s.free -= r;
  s.mask &= ~set;
  Set(id, s);
}

void ClusterState::Release(int id, const Resources& per_pod, const std::vector<int>& gpu_indices) {
  NodeState s = state_[id];
  Resources r = per_pod;
  r.pods = 1;
  s.free += r;
  if (const int topo = topo_of_[id]; topo >= 0) {
    const auto& index = topologies_[topo].index;
    for (int g : gpu_indices) {
      auto it = std::find(index.begin(), index.end(), g);
      if (it != index.end()) s.mask |= Mask{1} << (it - index.begin());
    }
  }
  s.free.gpus = std::min<int64_t>(s.free.gpus, std::popcount(s.mask));
  Set(id, s);
}

void ClusterState::RollbackTo(size_t mark) {
  while (journal_.size() > mark) {
    auto [id, old] = journal_.back();
    journal_.pop_back();
    const int cur = static_cast<int>(std::clamp<int64_t>(state_[id].free.gpus, 0, kMaxGpus));
    state_[id] = old;
    Reindex(id, cur);
  }
}

}  // namespace zenith::operator_::scheduler::internal
