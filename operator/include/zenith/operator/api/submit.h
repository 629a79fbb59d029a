// The API's simple job request — name, namespace, user and project, image, command, arguments,
// replicas, GPUs — turned into a ZenithJob, and a ZenithJob summarised for API answers. Pure
// JSON in, JSON out: the REST and gRPC front ends share it and tests need no server.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "zenith/common/status.h"

namespace zenith::operator_::api {

using Json = nlohmann::json;

// The request, as POST /api/v1/jobs takes it:
//   {"name": "llm", "namespace": "team-a", "user": "alice", "project": "nlp",
//    "image": "trainer:1", "command": ["python", "train.py"], "args": ["--lr=3e-4"],
//    "env": {"EPOCHS": "3"}, "replicas": 4, "gpus": 8, "queue": "default", "priority": 0}
// name, image and replicas are required; namespace defaults to "default", gpus (per replica)
// to 0. Unknown fields are refused, so a typo never silently drops a setting. Errors are
// INVALID_ARGUMENT naming the field.
Result<Json> ZenithJobFromRequest(const Json& request);

// {"id": "team-a/llm", "name", "namespace", "user", "project", "phase", "ready", "replicas",
//  "gpusPerReplica", "gpus", "queue", "retries", "created", "message", "conditions"}.
Json JobSummary(const Json& zenithjob);

// "team-a/llm" → {"team-a", "llm"}; a bare "llm" is in namespace "default".
struct JobId {
  std::string ns;
  std::string name;
};
Result<JobId> ParseJobId(const std::string& id);

}  // namespace zenith::operator_::api
