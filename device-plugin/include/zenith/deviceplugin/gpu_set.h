// Choosing which GPUs of a node to hand out together: the one scoring that both the device
// plugin's GetPreferredAllocation and the operator's scheduler use, so what the scheduler
// counted on is what the kubelet allocates. Pure and deterministic: the same topology and
// request always give the same answer; nothing here reads the clock or the hardware.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "zenith/common/status.h"
#include "zenith/deviceplugin/topology.h"

namespace zenith::deviceplugin {

// How good a set of GPUs is, in order of importance:
//   1. fully connected: every pair has at least one NVLink (direct or through NVSwitch);
//   2. nvlink_links: the sum of link counts over all pairs (wider is better);
//   3. numa_nodes: how many NUMA nodes the set spans (fewer is better).
// Ties after all three go to the lexicographically smallest sorted index list.
struct GpuSetScore {
  bool fully_connected = false;
  int nvlink_links = 0;
  int numa_nodes = 0;

  friend bool operator==(const GpuSetScore&, const GpuSetScore&) = default;
};
// >0 when a ranks above b, <0 when below, 0 when equal.
int CompareGpuSetScores(const GpuSetScore& a, const GpuSetScore& b);

struct GpuSetRequest {
  std::vector<int> available;     // GPU indices that are free (and healthy); order irrelevant
  std::vector<int> must_include;  // indices that must be in the answer; each also available
  int size = 0;                   // how many GPUs to choose, >= 1
};

struct GpuSet {
  std::vector<int> gpus;  // sorted GPU indices
  GpuSetScore score;
  bool exhaustive = true;  // false: the search budget ran out and this is the best found
};

// Precomputes the topology's link and NUMA tables once; then each request is cheap. Holds no
// reference to the topology it was built from. Thread-safe for concurrent const calls.
class GpuSetChooser {
 public:
  // INVALID_ARGUMENT for a topology that fails ValidateTopology or has more than 64 GPUs.
  static Result<GpuSetChooser> Create(const NodeTopology& topology);

  // The best set for the request. Errors: INVALID_ARGUMENT for a size below 1, an index the
  // topology does not have, a must-include GPU that is not available, or more must-include
  // GPUs than size; RESOURCE_EXHAUSTED when fewer GPUs are available than asked for.
  Result<GpuSet> Choose(const GpuSetRequest& request) const;

  // Whether `size` of the available GPUs can be chosen with every pair NVLink-connected: the
  // scheduler's filter for jobs that require a fully connected set.
  Result<bool> HasFullyConnectedSet(std::span<const int> available, int size) const;

  // The score of a given set (duplicates ignored). INVALID_ARGUMENT for an unknown index.
  Result<GpuSetScore> Score(std::span<const int> gpus) const;

  // Upper bound on search steps per Choose before it settles for the best set found so far
  // (a greedy start, improved by the search): tens of milliseconds at most, even for 64 GPUs.
  // Nodes of up to 16 GPUs finish exhaustively far below it (GpuSet::exhaustive says so).
  static constexpr int64_t kSearchBudget = 100'000;

 private:
  GpuSetChooser() = default;
  using Mask = uint64_t;
  Result<Mask> MaskOf(std::span<const int> indices, const char* what) const;
  GpuSetScore ScoreMask(Mask set) const;

  struct Search;
  std::vector<int> index_;               // position → GPU index (sorted ascending)
  std::vector<std::vector<int>> links_;  // by position
  std::vector<Mask> connected_;          // by position: positions with ≥1 link
  std::vector<Mask> numa_bit_;           // by position: one bit per distinct NUMA node
  int max_link_ = 0;
};

// One-shot helpers for callers that score a topology once.
Result<GpuSet> ChooseGpuSet(const NodeTopology& topology, const GpuSetRequest& request);
Result<bool> HasFullyConnectedSet(const NodeTopology& topology, std::span<const int> available,
                                  int size);

}  // namespace zenith::deviceplugin
