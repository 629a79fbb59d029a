// Pure builders for the objects a ZenithJob owns: one worker pod per rank and the headless
// Service that gives rank 0 a stable DNS name. No I/O: the controller creates what these
// return, and the tests check every field without a cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "zenith/operator/job.h"

namespace zenith::operator_ {

// Labels and annotations the operator puts on what it creates.
inline constexpr const char* kJobLabel = "zenith.ai/job";
inline constexpr const char* kRankLabel = "zenith.ai/rank";
// The gang restart a pod belongs to (status.retries when it was created): pods of an older
// attempt are left over from before a restart and are deleted, never counted.
inline constexpr const char* kAttemptLabel = "zenith.ai/attempt";
inline constexpr const char* kGpuResource = "zenith.ai/gpu";
inline constexpr const char* kRuntimeContainer = "zenith-runtime";
inline constexpr const char* kShmVolume = "zenith-shm";
inline constexpr const char* kShmMountPath = "/dev/shm/zenith";

struct BuildOptions {
  std::string scheduler_name = "zenith";
  std::string runtime_image = "zenith-runtime:0.1.0";
  int master_port = 29500;
};

// "<job>-<rank>".
std::string WorkerPodName(const std::string& job, int rank);
// "<job>-0.<job>.<ns>.svc": rank 0 through the headless Service.
std::string MasterAddress(const ZenithJob& job);
// The ownerReference that ties a child to its job (controller: true).
Json OwnerReference(const ZenithJob& job);

// The worker pod for `rank` of gang attempt `attempt`.
Json BuildWorkerPod(const ZenithJob& job, int rank, int attempt, const BuildOptions& options);
// The headless Service named after the job, selecting its workers.
Json BuildHeadlessService(const ZenithJob& job, const BuildOptions& options);

// The rank and attempt labels of a worker pod; nullopt when missing or not numbers.
std::optional<int> PodRank(const Json& pod);
std::optional<int> PodAttempt(const Json& pod);

}  // namespace zenith::operator_
