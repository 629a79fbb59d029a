// The ZenithJob status as the controller writes it: the phase, metav1-style conditions (a
// condition's lastTransitionTime moves only when its status flips), replica counts and times.
// Pure values and JSON conversion; the status is the controller's only memory between reconciles.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "zenith/common/clock.h"
#include "zenith/common/status.h"
#include "zenith/operator/job.h"

namespace zenith::operator_ {

enum class Phase {
  kNone,  // no status written yet
  kPending,
  kQueued,
  kScheduled,
  kRunning,
  kSucceeded,
  kFailed,
  kSuspended,
  kCancelled,
  kTimeout,
};

// The status.scheduling reason the gang scheduler writes on a gang it evicts for a job of
// higher priority, before it deletes the pods; the controller answers with the Preempted
// condition (reason kPreemptedByReason) and puts the job back to Queued without a retry.
inline constexpr const char* kPreemptedReason = "Preempted";
inline constexpr const char* kPreemptedByReason = "PreemptedByHigherPriorityJob";

std::string PhaseName(Phase phase);
Phase ParsePhase(const std::string& name);  // unknown or empty: kNone
// Succeeded, Failed, Cancelled and Timeout: nothing more happens but cleanup and TTL.
bool IsTerminal(Phase phase);

struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;
  std::string message;
  std::string last_transition_time;
  int64_t observed_generation = 0;

  bool operator==(const Condition&) const = default;
};

struct PlacementEntry {
  int rank = 0;
  std::string pod;
  std::string node;
  bool operator==(const PlacementEntry&) const = default;
};

struct JobStatus {
  Phase phase = Phase::kNone;
  int32_t replicas = 0;
  int32_t ready_replicas = 0;
  int32_t succeeded_replicas = 0;
  int32_t failed_replicas = 0;
  int32_t retries = 0;
  int64_t gpus = 0;
  int64_t observed_generation = 0;
  std::string start_time;
  std::string completion_time;
  std::vector<PlacementEntry> placement;
  std::vector<Condition> conditions;

  bool operator==(const JobStatus&) const = default;

  const Condition* FindCondition(const std::string& type) const;
  bool ConditionTrue(const std::string& type) const;
  // Sets a condition; its transition time moves to `now` only when the status changes.
  void SetCondition(const std::string& type, bool status, const std::string& reason,
                    const std::string& message, const std::string& now);
};

// The object's status, tolerant of missing fields (a new job has none).
JobStatus ParseJobStatus(const Json& status);
// The status as written to the API server; `ready` is "<ready>/<replicas>" for kubectl.
Json JobStatusToJson(const JobStatus& status);

// metav1.Time, written and read the one way the project has (zenith/common/clock.h).
using common::FormatTime;
using common::ParseTime;

}  // namespace zenith::operator_
