// What Zenith's REST and gRPC APIs do, independent of the wire: submit, list, get and cancel
// jobs, and report the cluster's GPUs. Every call first authenticates the caller's token and
// authorizes the exact access through the API server, then acts with the operator's client; the
// API server stays the only store. Errors are Status values the front ends map to HTTP and
// gRPC codes (INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404,
// ALREADY_EXISTS and ABORTED 409).
#pragma once

#include <string>

#include "zenith/common/status.h"
#include "zenith/kube/client.h"
#include "zenith/operator/api/access.h"
#include "zenith/operator/api/submit.h"

namespace zenith::operator_::api {

struct ListJobsRequest {
  std::string ns;  // "" = every namespace the caller may list
  std::string user;
  std::string project;
  std::string phase;
};

class JobService {
 public:
  JobService(kube::Client& client, AccessReviewer& access) : client_(client), access_(access) {}

  // The created job's summary (see submit.h for the request's shape).
  Result<Json> Submit(const std::string& token, const Json& request);
  // {"jobs": [summary...]}, sorted by namespace and name.
  Result<Json> List(const std::string& token, const ListJobsRequest& request);
  Result<Json> Get(const std::string& token, const std::string& id);
  // Deletes the job (its pods and Service go with it); the last summary, phase "Cancelled".
  Result<Json> Cancel(const std::string& token, const std::string& id);
  // {"nodes", "gpus": {"total", "allocated", "free", "unhealthy"}, "jobs": {phase: count}}.
  Result<Json> ClusterStatus(const std::string& token);
  // {"nodes": [{"name", "ready", "gpus", "allocated", "free", "healthy", "product", "nvlink",
  //   "nvswitch"}...]}.
  Result<Json> Nodes(const std::string& token);

 private:
  Result<Caller> Check(const std::string& token, const Access& access);
  Result<Json> NodeTable();

  kube::Client& client_;
  AccessReviewer& access_;
};

// The HTTP status for an error of this service: 400, 401, 403, 404, 409, 503 or 500.
int HttpStatusFor(const Status& status);

}  // namespace zenith::operator_::api
