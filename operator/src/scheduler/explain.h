// Why a gang waits, in numbers: the facts the cycle counted (eligible nodes and what filtered
// the others, room for the job's pods with and without its NVLink and CPU/memory needs, the
// best label domain, its queue's GPU use) turned into a reason code and one message. Pure
// formatting; counting is the cycle's. Internal to zenith_scheduler.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "zenith/operator/scheduler/cycle.h"
#include "zenith/operator/scheduler/node_filter.h"

namespace zenith::operator_::scheduler::internal {

struct WaitFacts {
  int nodes_total = 0;
  int nodes_eligible = 0;
  std::array<int, kFilterReasonCount> rejected{};  // nodes each filter turned away
  // Pods of this job the eligible nodes could take now (each node counted up to the gang's
  // size), and on how many nodes.
  int64_t room = 0;
  int nodes_with_room = 0;
  // The same without the NVLink requirement (set only for NVLink-required jobs).
  std::optional<std::pair<int64_t, int>> room_unconnected;  // pods, nodes
  std::optional<int64_t> room_gpus_only;                    // the same counting GPUs only
  struct Domain {
    std::string label;
    int count = 0;
    std::string best;  // the value with the most room
    int64_t best_room = 0;
  };
  std::optional<Domain> domain;  // for jobs with a sameNodeLabel
  std::string queue;
  int64_t queue_used = 0;
  std::optional<int64_t> queue_quota;
};

std::pair<WaitReason, std::string> ExplainWait(const JobRequest& job, const WaitFacts& facts);

// "needs 8 GPUs (1 pod × 8 GPUs); queue team-a uses 16/16 GPUs"
std::string QuotaMessage(const JobRequest& job, int64_t used, int64_t quota);
// "4 pods × 8 NVLink-connected GPUs"
std::string GangPhrase(const JobRequest& job);
// "1 pod", "3 pods"
std::string Plural(int64_t n, std::string_view one, std::string_view many);

}  // namespace zenith::operator_::scheduler::internal
