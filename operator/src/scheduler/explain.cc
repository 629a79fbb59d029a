#include "explain.h"

namespace zenith::operator_::scheduler::internal {

std::string Plural(int64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string GangPhrase(const JobRequest& job) {
  std::string s = Plural(job.pods, "pod", "pods") + " × ";
  if (job.per_pod.gpus == 0) return s + "0 GPUs";
  s += std::to_string(job.per_pod.gpus) + " ";
  if (job.topology.nvlink == NvlinkPolicy::kRequired) s += "NVLink-connected ";
  return s + (job.per_pod.gpus == 1 ? "GPU" : "GPUs");
}

std::string QuotaMessage(const JobRequest& job, int64_t used, int64_t quota) {
  return "needs " + std::to_string(job.TotalGpus()) + " GPUs (" + GangPhrase(job) + "); queue " +
         job.queue + " uses " + std::to_string(used) + "/" + std::to_string(quota) + " GPUs";
}

std::pair<WaitReason, std::string> ExplainWait(const JobRequest& job, const WaitFacts& f) {
  const std::string queue_part = "queue " + f.queue + " uses " + std::to_string(f.queue_used) +
                                 (f.queue_quota ? "/" + std::to_string(*f.queue_quota) : "") +
                                 " GPUs";
  std::string msg = "needs " + GangPhrase(job) + "; ";
  if (f.nodes_eligible == 0) {
    msg += "no node is eligible";
  } else if (f.nodes_eligible == f.nodes_total) {
    msg += "all " + Plural(f.nodes_total, "node", "nodes") + " eligible";
  } else {
    msg += std::to_string(f.nodes_eligible) + " of " + std::to_string(f.nodes_total) +
           " nodes eligible";
  }
  std::string filtered;
  for (int r = 1; r < kFilterReasonCount; ++r) {
    if (f.rejected[r] == 0) continue;
    filtered += (filtered.empty() ? "" : ", ") +
                std::string(FilterReasonName(static_cast<FilterReason>(r))) + " " +
                std::to_string(f.rejected[r]);
  }
  if (!filtered.empty()) msg += " (filtered: " + filtered + ")";
  if (f.nodes_eligible == 0) return {WaitReason::kNoEligibleNodes, msg + "; " + queue_part};

  const std::string set =
      job.per_pod.gpus == 0
          ? "room for a pod"
          : std::string("a free ") +
                (job.topology.nvlink == NvlinkPolicy::kRequired ? "NVLink-connected " : "") +
                std::to_string(job.per_pod.gpus) + "-set";
  msg += "; " + Plural(f.nodes_with_room, "node has ", "nodes have ") + set + " (room for " +
         Plural(f.room, "pod", "pods") + ")";
  WaitReason reason = WaitReason::kInsufficientGpus;
  if (f.room < job.pods) {
    if (f.room_unconnected && f.room_unconnected->first >= job.pods) {
      reason = WaitReason::kNoConnectedSet;
      msg += "; " + Plural(f.room_unconnected->second, "node has", "nodes have") +
             " enough free GPUs, not NVLink-connected";
    } else if (f.room_gpus_only && *f.room_gpus_only >= job.pods) {
      reason = WaitReason::kInsufficientCpuMemory;
      msg += "; GPUs would fit but CPU, memory or pod slots do not";
    }
  } else if (f.domain) {
    reason = WaitReason::kNoSharedDomain;
    msg += "; no single " + f.domain->label + " value has room for all (" +
           Plural(f.domain->count, "domain", "domains") +
           (f.domain->best.empty() ? ""
                                   : ", most is " + f.domain->best + " with room for " +
                                         Plural(f.domain->best_room, "pod", "pods")) +
           ")";
  }
  return {reason, msg + "; " + queue_part};
}

}  // namespace zenith::operator_::scheduler::internal
