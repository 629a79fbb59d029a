#include "zenith/operator/api/job_service.h"

#include <algorithm>
#include <map>

#include "zenith/kube/api_error.h"
#include "zenith/operator/scheduler/kube_convert.h"

namespace zenith::operator_::api {
namespace {

const kube::GroupVersionResource& Jobs() {
  static const auto type = kube::resources::Custom("zenith.ai", "v1alpha1", "zenithjobs",
                                                   /*namespaced=*/true, "ZenithJob");
  return type;
}

const kube::GroupVersionResource& ZenithNodes() {
  static const auto type = kube::resources::Custom("zenith.ai", "v1alpha1", "zenithnodes",
                                                   /*namespaced=*/false, "ZenithNode");
  return type;
}

Access JobAccess(std::string verb, std::string ns) {
  return {std::move(verb), "zenith.ai", "zenithjobs", std::move(ns)};
}

}  // namespace

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

Result<Caller> JobService::Check(const std::string& token, const Access& access) {
  ZENITH_ASSIGN_OR_RETURN(Caller caller, access_.Authenticate(token));
  ZENITH_RETURN_IF_ERROR(access_.Authorize(caller, access));
  return caller;
}

Result<Json> JobService::Submit(const std::string& token, const Json& request) {
  // Authentication first: an anonymous caller learns nothing, not even what was malformed.
  ZENITH_ASSIGN_OR_RETURN(Caller caller, access_.Authenticate(token));
  ZENITH_ASSIGN_OR_RETURN(Json job, ZenithJobFromRequest(request));
  const std::string ns = job["metadata"]["namespace"];
  ZENITH_RETURN_IF_ERROR(access_.Authorize(caller, JobAccess("create", ns)));
  auto created = client_.Create(Jobs(), ns, job);
  if (!created.ok()) {
    if (kube::IsAlreadyExists(created.status())) {
      return AlreadyExistsError("job " + ns + "/" + job["metadata"]["name"].get<std::string>() +
                                " already exists");
    }
    // The API server's own validation (CEL rules) names the field: pass it on as a 400.
    if (kube::ApiHttpCode(created.status()) == 422 || kube::ApiHttpCode(created.status()) == 400) {
      return InvalidArgumentError(created.status().message());
    }
    return created.status();
  }
  return JobSummary(*created);
}

Result<Json> JobService::List(const std::string& token, const ListJobsRequest& request) {
  ZENITH_RETURN_IF_ERROR(Check(token, JobAccess("list", request.ns)).status());
  kube::ListOptions options;
  std::vector<std::string> selectors;
  if (!request.user.empty()) selectors.push_back("zenith.ai/user=" + request.user);
  if (!request.project.empty()) selectors.push_back("zenith.ai/project=" + request.project);
  for (const auto& s : selectors) {
    options.label_selector += (options.label_selector.empty() ? "" : ",") + s;
  }
  ZENITH_ASSIGN_OR_RETURN(Json list, client_.ListAll(Jobs(), request.ns, options));
  Json jobs = Json::array();
  for (const auto& item : list.value("items", Json::array())) {
    Json summary = JobSummary(item);
    if (!request.phase.empty() && summary["phase"] != request.phase) continue;
    jobs.push_back(std::move(summary));
  }
  std::sort(jobs.begin(), jobs.end(),
            [](const Json& a, const Json& b) { return a["id"] < b["id"]; });
  return Json{{"jobs", jobs}};
}

Result<Json> JobService::Get(const std::string& token, const std::string& id) {
  ZENITH_ASSIGN_OR_RETURN(JobId job, ParseJobId(id));
  ZENITH_RETURN_IF_ERROR(Check(token, JobAccess("get", job.ns)).status());
  auto got = client_.Get(Jobs(), job.ns, job.name);
  if (kube::IsNotFound(got.status())) return NotFoundError("job " + job.ns + "/" + job.name);
  ZENITH_RETURN_IF_ERROR(got.status());
  return JobSummary(*got);
}

Result<Json> JobService::Cancel(const std::string& token, const std::string& id) {
  ZENITH_ASSIGN_OR_RETURN(JobId job, ParseJobId(id));
  ZENITH_RETURN_IF_ERROR(Check(token, JobAccess("delete", job.ns)).status());
  auto got = client_.Get(Jobs(), job.ns, job.name);
  if (kube::IsNotFound(got.status())) return NotFoundError("job " + job.ns + "/" + job.name);
  ZENITH_RETURN_IF_ERROR(got.status());
  kube::DeleteOptions options;
  options.propagation_policy = "Background";
  options.precondition_uid = got->value("/metadata/uid"_json_pointer, std::string());
  auto deleted = client_.Delete(Jobs(), job.ns, job.name, options);
  if (kube::IsNotFound(deleted.status())) return NotFoundError("job " + job.ns + "/" + job.name);
  ZENITH_RETURN_IF_ERROR(deleted.status());
  Json summary = JobSummary(*got);
  summary["phase"] = "Cancelled";
  return summary;
}

Result<Json> JobService::NodeTable() {
  ZENITH_ASSIGN_OR_RETURN(Json nodes, client_.ListAll(kube::resources::Nodes(), ""));
  std::map<std::string, Json> published;
  auto zenith_nodes = client_.ListAll(ZenithNodes(), "");
  // Without the ZenithNode CRD (no device plugin yet) nodes are reported from their capacity.
  if (zenith_nodes.ok()) {
    for (const auto& zn : zenith_nodes->value("items", Json::array())) {
      published[zn.value("/metadata/name"_json_pointer, std::string())] =
          zn.value("status", Json::object());
    }
  }
  kube::ListOptions active;
  active.field_selector = "status.phase!=Succeeded,status.phase!=Failed,spec.nodeName!=";
  ZENITH_ASSIGN_OR_RETURN(Json pods, client_.ListAll(kube::resources::Pods(), "", active));
  // The scheduler's own reading of pods and nodes, so the API reports what it counts.
  std::map<std::string, int64_t> allocated;
  for (const auto& pod : pods.value("items", Json::array())) {
    auto usage = scheduler::PodUsageFromJson(pod);
    if (usage.ok() && usage->holds_resources) allocated[usage->node] += usage->requests.gpus;
  }
  Json table = Json::array();
  for (const auto& node : nodes.value("items", Json::array())) {
    auto parsed = scheduler::NodeFromJson(node);
    if (!parsed.ok()) continue;  // a node the scheduler cannot read offers nothing either
    const std::string& name = parsed->name;
    const int64_t gpus = parsed->allocatable.gpus;
    const Json zn = published.count(name) ? published[name] : Json::object();
    const int64_t used = allocated[name];
    table.push_back({{"name", name},
                     {"ready", !parsed->unschedulable},
                     {"gpus", gpus},
                     {"allocated", used},
                     {"free", std::max<int64_t>(0, gpus - used)},
                     {"healthy", zn.value("healthyGpus", gpus)},
                     {"product", zn.value("product", std::string())},
                     {"nvlink", zn.value("nvlink", false)},
                     {"nvswitch", zn.value("nvswitch", false)}});
  }
  return table;
}

Result<Json> JobService::Nodes(const std::string& token) {
  ZENITH_RETURN_IF_ERROR(Check(token, {"list", "zenith.ai", "zenithnodes", ""}).status());
  ZENITH_ASSIGN_OR_RETURN(Json table, NodeTable());
  return Json{{"nodes", table}};
}

Result<Json> JobService::ClusterStatus(const std::string& token) {
  ZENITH_RETURN_IF_ERROR(Check(token, {"list", "zenith.ai", "zenithnodes", ""}).status());
  ZENITH_ASSIGN_OR_RETURN(Json table, NodeTable());
  int64_t total = 0, allocated = 0, free = 0, unhealthy = 0, ready = 0;
  for (const auto& n : table) {
    total += n["gpus"].get<int64_t>();
    allocated += n["allocated"].get<int64_t>();
    free += n["free"].get<int64_t>();
    unhealthy += std::max<int64_t>(0, n["gpus"].get<int64_t>() - n["healthy"].get<int64_t>());
    ready += n["ready"].get<bool>() ? 1 : 0;
  }
  ZENITH_ASSIGN_OR_RETURN(Json jobs, client_.ListAll(Jobs(), ""));
  Json phases = Json::object();
  for (const auto& job : jobs.value("items", Json::array())) {
    const std::string phase = job.value("/status/phase"_json_pointer, std::string("Pending"));
    phases[phase] = phases.value(phase, 0) + 1;
  }
  return Json{
      {"nodes", {{"total", table.size()}, {"ready", ready}}},
      {"gpus",
       {{"total", total}, {"allocated", allocated}, {"free", free}, {"unhealthy", unhealthy}}},
      {"jobs", phases}};
}

}  // namespace zenith::operator_::api
