#include "zenith/operator/job_status.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace zenith::operator_ {

namespace {
constexpr std::array<const char*, 10> kPhaseNames = {
    "",          "Pending", "Queued",    "Scheduled", "Running",
    "Succeeded", "Failed",  "Suspended", "Cancelled", "Timeout"};
}  // namespace

std::string PhaseName(Phase phase) { return kPhaseNames[static_cast<size_t>(phase)]; }

Phase ParsePhase(const std::string& name) {
  for (size_t i = 1; i < kPhaseNames.size(); ++i)
    if (name == kPhaseNames[i]) return static_cast<Phase>(i);
  return Phase::kNone;
}

bool IsTerminal(Phase phase) {
  return phase == Phase::kSucceeded || phase == Phase::kFailed || phase == Phase::kCancelled ||
         phase == Phase::kTimeout;
}

const Condition* JobStatus::FindCondition(const std::string& type) const {
  for (const auto& c : conditions)
    if (c.type == type) return &c;
  return nullptr;
}

bool JobStatus::ConditionTrue(const std::string& type) const {
  const Condition* c = FindCondition(type);
  return c && c->status == "True";
}

void JobStatus::SetCondition(const std::string& type, bool status, const std::string& reason,
                             const std::string& message, const std::string& now) {
  std::string s = status ? "True" : "False";
  for (auto& c : conditions) {
    if (c.type != type) continue;
    if (c.status != s) c.last_transition_time = now;
    c.status = s;
    c.reason = reason;
    c.message = message;
    c.observed_generation = observed_generation;
    return;
  }
  conditions.push_back({type, s, reason, message, now, observed_generation});
}

JobStatus ParseJobStatus(const Json& j) {
  JobStatus s;
  if (!j.is_object()) return s;
  auto i32 = [&](const char* k) {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int32_t>() : 0;
  };
  s.phase = ParsePhase(j.value("phase", ""));
  s.replicas = i32("replicas");
  s.ready_replicas = i32("readyReplicas");
  s.succeeded_replicas = i32("succeededReplicas");
  s.failed_replicas = i32("failedReplicas");
  s.retries = i32("retries");
  s.gpus = j.contains("gpus") && j["gpus"].is_number_integer() ? j["gpus"].get<int64_t>() : 0;
  s.observed_generation =
      j.contains("observedGeneration") && j["observedGeneration"].is_number_integer()
          ? j["observedGeneration"].get<int64_t>()
          : 0;
  s.start_time = j.value("startTime", "");
  s.completion_time = j.value("completionTime", "");
  if (j.contains("placement") && j["placement"].is_array()) {
    for (const auto& p : j["placement"]) {
      if (!p.is_object()) continue;
      s.placement.push_back({p.value("rank", 0), p.value("pod", ""), p.value("node", "")});
    }
  }
  if (j.contains("conditions") && j["conditions"].is_array()) {
    for (const auto& c : j["conditions"]) {
      if (!c.is_object()) continue;
      s.conditions.push_back({c.value("type", ""), c.value("status", ""), c.value("reason", ""),
                              c.value("message", ""), c.value("lastTransitionTime", ""),
                              c.value("observedGeneration", int64_t{0})});
    }
  }
  return s;
}

Json JobStatusToJson(const JobStatus& s) {
  Json j = {{"phase", PhaseName(s.phase)},
            {"ready", std::to_string(s.ready_replicas) + "/" + std::to_string(s.replicas)},
            {"gpus", s.gpus},
            {"replicas", s.replicas},
            {"readyReplicas", s.ready_replicas},
            {"succeededReplicas", s.succeeded_replicas},
            {"failedReplicas", s.failed_replicas},
            {"retries", s.retries},
            {"observedGeneration", s.observed_generation}};
  if (!s.start_time.empty()) j["startTime"] = s.start_time;
  if (!s.completion_time.empty()) j["completionTime"] = s.completion_time;
  if (!s.placement.empty()) {
    Json p = Json::array();
    for (const auto& e : s.placement)
      p.push_back({{"rank", e.rank}, {"pod", e.pod}, {"node", e.node}});
    j["placement"] = p;
  }
  Json conds = Json::array();
  for (const auto& c : s.conditions) {
    Json cj = {
        {"type", c.type}, {"status", c.status}, {"observedGeneration", c.observed_generation}};
    if (!c.reason.empty()) cj["reason"] = c.reason;
    if (!c.message.empty()) cj["message"] = c.message;
    if (!c.last_transition_time.empty()) cj["lastTransitionTime"] = c.last_transition_time;
    conds.push_back(cj);
  }
  j["conditions"] = conds;
  return j;
}

}  // namespace zenith::operator_
