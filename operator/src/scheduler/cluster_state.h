// The cycle's working copy of the cluster: per node what is still free (resources and a GPU
// bitmask by topology position), an index of nodes by free GPU count for best-fit search, the
// GPU set choosers shared by nodes of the same topology, a memo of their answers, and a journal
// so a gang that does not fit is rolled back exactly. Internal to zenith_scheduler.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "zenith/deviceplugin/gpu_set.h"
#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::scheduler::internal {

using Mask = uint64_t;
inline constexpr int kMaxGpus = 64;

struct NodeState {
  Resources free;  // free.gpus: GPUs usable now (≤ popcount(mask))
  Mask mask = 0;   // free healthy GPUs, by position in the node's topology
};

// A chosen set on one node, by position mask, with what the scoring said about it.
struct SetChoice {
  Mask set = 0;
  bool fully_connected = false;
  int numa_nodes = 0;
};

class ClusterState {
 public:
  // Nodes are sorted by name; ids below are positions in that order. Problems (a topology
  // the chooser rejects, duplicate names) are appended to `warnings`.
  ClusterState(const std::vector<Node>& nodes, std::vector<std::string>& warnings);

  size_t size() const { return nodes_.size(); }
  const Node& node(int id) const { return *nodes_[id]; }
  const NodeState& state(int id) const { return state_[id]; }
  int IdOf(const std::string& name) const;  // -1 when unknown

  // The best k-set of the node's free GPUs, or none when fewer than k are free or, with
  // `need_connected`, no fully NVLink-connected k-set is free. k ≥ 1.
  std::optional<SetChoice> Choose(int id, int k, bool need_connected) const;
  // The same for a hypothetical free mask on the node (what-if counting, no state change).
  std::optional<SetChoice> ChooseFrom(int id, Mask free, int k, bool need_connected) const;
  // Whether a set of this quality is the best the node's topology could ever give for k.
  bool IsBestQuality(int id, int k, const SetChoice& c, bool want_connected, bool want_numa) const;

  // Whether a pod with these requests fits the node now (GPU count only; no set check).
  bool ResourcesFit(int id, const Resources& per_pod) const;

  // Takes resources and a GPU set (by position mask); recorded in the journal.
  void Take(int id, const Resources& per_pod, Mask set);
  // Gives back a pod's resources and GPUs (by index); recorded in the journal.
  void Release(int id, const Resources& per_pod, const std::vector<int>& gpu_indices);
  // Overwrites a node's state (journalled), for the preemption merge.
  void Set(int id, const NodeState& s);

  size_t JournalMark() const { return journal_.size(); }
  void RollbackTo(size_t mark);
  void ClearJournal() { journal_.clear(); }
  // Bumped by every change that stays (commit); caches keyed on it stay valid until then.
  uint64_t version() const { return version_; }
  void Commit() {
    journal_.clear();
    ++version_;
  }

  std::vector<int> Indices(int id, Mask set) const;  // positions → GPU indices, sorted

  // Nodes by free GPU count: bucket(c) holds the ids with c free GPUs, ascending.
  const std::set<int>& Bucket(int free_gpus) const { return buckets_[free_gpus]; }

 private:
  struct TopologyInfo {
    std::optional<deviceplugin::GpuSetChooser> chooser;
    std::vector<int> index;  // position → GPU index
    int max_per_numa = 0;    // most GPUs on one NUMA node
  };
  struct MemoKey {
    int topo;
    int k;
    bool connected;
    Mask mask;
    bool operator==(const MemoKey&) const = default;
  };
  struct MemoHash {
    size_t operator()(const MemoKey& m) const {
      return std::hash<uint64_t>()(m.mask * 0x9E3779B97F4A7C15ull ^
                                   (uint64_t(m.topo) << 8 | uint64_t(m.k) << 1 | m.connected));
    }
  };

  void Reindex(int id, int old_free);
  int TopologyFor(const Node& node, std::vector<std::string>& warnings);

  std::vector<const Node*> nodes_;
  std::unordered_map<std::string, int> id_of_;
  std::vector<NodeState> state_;
  std::vector<int> topo_of_;  // node id → topologies_ index
  std::vector<TopologyInfo> topologies_;
  std::unordered_map<std::string, int> topo_by_fingerprint_;
  mutable std::unordered_map<MemoKey, std::optional<SetChoice>, MemoHash> memo_;
  mutable std::unordered_map<MemoKey, bool, MemoHash> connected_possible_;
  std::vector<std::set<int>> buckets_;
  std::vector<std::pair<int, NodeState>> journal_;
  uint64_t version_ = 0;
};

}  // namespace zenith::operator_::scheduler::internal
