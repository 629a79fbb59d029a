#include "zenith/operator/api/submit.h"

#include <regex>
#include <set>

namespace zenith::operator_::api {
namespace {

// Worker pods are named <job>-<rank> and labelled with the job's name, so a job name must be a
// DNS label short enough to leave room for the rank.
const std::regex kDnsLabel("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
constexpr size_t kMaxJobName = 52;

Status CheckName(const std::string& field, const std::string& value, size_t max) {
  if (value.empty()) return InvalidArgumentError(field + ": must not be empty");
  if (value.size() > max) {
    return InvalidArgumentError(field + ": '" + value + "' is longer than " + std::to_string(max) +
                                " characters");
  }
  if (!std::regex_match(value, kDnsLabel)) {
    return InvalidArgumentError(field + ": '" + value +
                                "' must be lower-case letters, digits and '-', starting and "
                                "ending with a letter or digit");
  }
  return Status::Ok();
}

Result<std::string> String(const Json& r, const char* key, bool required) {
  auto it = r.find(key);
  if (it == r.end() || it->is_null()) {
    if (required) return InvalidArgumentError(std::string(key) + ": required");
    return std::string();
  }
  if (!it->is_string()) return InvalidArgumentError(std::string(key) + ": must be a string");
  return it->get<std::string>();
}

Result<int64_t> Integer(const Json& r, const char* key, bool required, int64_t fallback,
                        int64_t min, int64_t max) {
  auto it = r.find(key);
  if (it == r.end() || it->is_null()) {
    if (required) return InvalidArgumentError(std::string(key) + ": required");
    return fallback;
  }
  if (!it->is_number_integer()) {
    return InvalidArgumentError(std::string(key) + ": must be an integer");
  }
  const int64_t v = it->get<int64_t>();
  if (v < min || v > max) {
    return InvalidArgumentError(std::string(key) + ": " + std::to_string(v) + " is outside [" +
                                std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

Result<Json> StringList(const Json& r, const char* key) {
  auto it = r.find(key);
  if (it == r.end() || it->is_null()) return Json::array();
  if (!it->is_array())
    return InvalidArgumentError(std::string(key) + ": must be a list of strings");
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) {
      return InvalidArgumentError(std::string(key) + "[" + std::to_string(i) +
                                  "]: must be a string");
    }
  }
  return *it;
}

}  // namespace

Result<Json> ZenithJobFromRequest(const Json& request) {
  if (!request.is_object()) return InvalidArgumentError("request body: must be a JSON object");
  static const std::set<std::string> kKnown = {"name",     "namespace", "user",  "project",
                                               "image",    "command",   "args",  "env",
                                               "replicas", "gpus",      "queue", "priority"};
  for (const auto& [key, _] : request.items()) {
    if (!kKnown.count(key)) {
      return InvalidArgumentError(key +
                                  ": unknown field (known: name, namespace, user, project, "
                                  "image, command, args, env, replicas, gpus, queue, "
                                  "priority)");
    }
  }
  ZENITH_ASSIGN_OR_RETURN(std::string name, String(request, "name", true));
  ZENITH_RETURN_IF_ERROR(CheckName("name", name, kMaxJobName));
  ZENITH_ASSIGN_OR_RETURN(std::string ns, String(request, "namespace", false));
  if (ns.empty()) ns = "default";
  ZENITH_RETURN_IF_ERROR(CheckName("namespace", ns, 63));
  ZENITH_ASSIGN_OR_RETURN(std::string image, String(request, "image", true));
  if (image.empty()) return InvalidArgumentError("image: must not be empty");
  ZENITH_ASSIGN_OR_RETURN(std::string user, String(request, "user", false));
  ZENITH_ASSIGN_OR_RETURN(std::string project, String(request, "project", false));
  ZENITH_ASSIGN_OR_RETURN(std::string queue, String(request, "queue", false));
  ZENITH_ASSIGN_OR_RETURN(int64_t replicas, Integer(request, "replicas", true, 0, 1, 10000));
  ZENITH_ASSIGN_OR_RETURN(int64_t gpus, Integer(request, "gpus", false, 0, 0, 64));
  ZENITH_ASSIGN_OR_RETURN(int64_t priority,
                          Integer(request, "priority", false, 0, -1000000, 1000000));
  ZENITH_ASSIGN_OR_RETURN(Json command, StringList(request, "command"));
  ZENITH_ASSIGN_OR_RETURN(Json args, StringList(request, "args"));

  Json env = Json::array();
  if (auto it = request.find("env"); it != request.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgumentError("env: must be an object of strings");
    for (const auto& [key, value] : it->items()) {
      if (!value.is_string()) return InvalidArgumentError("env." + key + ": must be a string");
      env.push_back({{"name", key}, {"value", value}});
    }
  }

  Json labels = Json::object();
  // Label values have the label-value grammar; user names like "system:serviceaccount:..."
  // do not, so they are checked here rather than refused by the API server later.
  const std::regex label_value("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");
  for (const auto& [field, value] : {std::pair<const char*, std::string&>{"user", user},
                                     std::pair<const char*, std::string&>{"project", project}}) {
    if (value.empty()) continue;
    if (!std::regex_match(value, label_value)) {
      return InvalidArgumentError(std::string(field) + ": '" + value +
                                  "' is not a valid label value (63 characters of letters, "
                                  "digits, '-', '_' or '.')");
    }
    labels[std::string("zenith.ai/") + field] = value;
  }

  Json container = {{"name", "trainer"}, {"image", image}};
  if (!command.empty()) container["command"] = command;
  if (!args.empty()) container["args"] = args;
  if (!env.empty()) container["env"] = env;
  Json spec = {{"replicas", replicas},
               {"gpusPerReplica", gpus},
               {"template", {{"spec", {{"containers", Json::array({container})}}}}}};
  Json scheduling = Json::object();
  if (!queue.empty()) scheduling["queue"] = queue;
  if (priority != 0) scheduling["priority"] = priority;
  if (!scheduling.empty()) spec["scheduling"] = scheduling;
  Json metadata = {{"name", name}, {"namespace", ns}};
  if (!labels.empty()) metadata["labels"] = labels;
  return Json{{"apiVersion", "zenith.ai/v1alpha1"},
              {"kind", "ZenithJob"},
              {"metadata", metadata},
              {"spec", spec}};
}

Json JobSummary(const Json& job) {
  auto get = [&](const char* pointer, Json fallback) {
    const Json::json_pointer p(pointer);
    return job.contains(p) && !job.at(p).is_null() ? job.at(p) : fallback;
  };
  const std::string ns = get("/metadata/namespace", "");
  const std::string name = get("/metadata/name", "");
  const int64_t replicas = get("/spec/replicas", 0);
  const int64_t per_replica = get("/spec/gpusPerReplica", 0);
  return {{"id", ns + "/" + name},
          {"name", name},
          {"namespace", ns},
          {"user", get("/metadata/labels/zenith.ai~1user", "")},
          {"project", get("/metadata/labels/zenith.ai~1project", "")},
          {"phase", get("/status/phase", "Pending")},
          {"ready", get("/status/ready", "0/" + std::to_string(replicas))},
          {"replicas", replicas},
          {"gpusPerReplica", per_replica},
          {"gpus", get("/status/gpus", replicas * per_replica)},
          {"queue", get("/spec/scheduling/queue", "default")},
          {"retries", get("/status/retries", 0)},
          {"created", get("/metadata/creationTimestamp", "")},
          {"message", get("/status/message", "")},
          {"conditions", get("/status/conditions", Json::array())}};
}

Result<JobId> ParseJobId(const std::string& id) {
  JobId out;
  const auto slash = id.find('/');
  if (slash == std::string::npos) {
    out.ns = "default";
    out.name = id;
  } else {
    out.ns = id.substr(0, slash);
    out.name = id.substr(slash + 1);
  }
  ZENITH_RETURN_IF_ERROR(CheckName("job id namespace", out.ns, 63));
  ZENITH_RETURN_IF_ERROR(CheckName("job id name", out.name, 253));
  return out;
}

}  // namespace zenith::operator_::api
