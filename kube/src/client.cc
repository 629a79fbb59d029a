#include "zenith/kube/client.h"

#include "zenith/common/log.h"

namespace zenith::kube {
namespace {

namespace log = common::log;

std::string StringAt(const Json& j, const char* a, const char* b) {
  auto ia = j.find(a);
  if (ia == j.end() || !ia->is_object()) return "";
  auto ib = ia->find(b);
  return ib != ia->end() && ib->is_string() ? ib->get<std::string>() : "";
}

bool IsIdempotent(const std::string& method) {
  return method == "GET" || method == "PUT" || method == "DELETE";
}

}  // namespace

std::string ObjectKey(const Json& object) {
  std::string ns = StringAt(object, "metadata", "namespace");
  std::string name = StringAt(object, "metadata", "name");
  return ns.empty() ? name : ns + "/" + name;
}

std::string ResourceVersionOf(const Json& object) {
  return StringAt(object, "metadata", "resourceVersion");
}

std::string PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

std::string_view WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "ADDED";
    case WatchEvent::Type::kModified:
      return "MODIFIED";
    case WatchEvent::Type::kDeleted:
      return "DELETED";
    case WatchEvent::Type::kBookmark:
      return "BOOKMARK";
    case WatchEvent::Type::kError:
      return "ERROR";
  }
  return "ERROR";
}

namespace {

// A watch event's own mask: its type, and its object through the objects' mask.
FieldMask EventFields(const std::shared_ptr<const FieldMask>& object_fields) {
  FieldMask event = FieldMask::Only({"type"});
  event.With("object", object_fields);
  return event;
}

// ParseWatchEvent with the event's mask built once per stream (null: read whole).
Result<WatchEvent> ParseEvent(std::string_view line, const FieldMask* event_fields) {
  Json j;
  if (event_fields != nullptr) {
    auto masked = ParseMasked(line, *event_fields);
    if (!masked.ok()) {
      return DataLossError("watch stream: a line is not a watch event (" +
                           masked.status().message() + "): '" + std::string(line.substr(0, 120)) +
                           "'");
    }
    j = std::move(*masked);
    // A bookmark's annotations and an error's status are read whole, whatever the mask.
    auto type = j.is_object() ? j.find("type") : j.end();
    if (type != j.end() && (*type == "BOOKMARK" || *type == "ERROR"))
      j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  } else {
    j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  }
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    std::string head(line.substr(0, 120));
    return DataLossError("watch stream: a line is not a watch event: '" + head + "'");
  }
  const std::string type = j["type"].get<std::string>();
  WatchEvent ev;
  if (type == "ADDED")
    ev.type = WatchEvent::Type::kAdded;
  else if (type == "MODIFIED")
    ev.type = WatchEvent::Type::kModified;
  else if (type == "DELETED")
    ev.type = WatchEvent::Type::kDeleted;
  else if (type == "BOOKMARK")
    ev.type = WatchEvent::Type::kBookmark;
  else if (type == "ERROR")
    ev.type = WatchEvent::Type::kError;
  else
    return DataLossError("watch stream: unknown event type '" + type + "'");
  if (auto o = j.find("object"); o != j.end()) ev.object = std::move(*o);
  return ev;
}

}  // namespace

Result<WatchEvent> ParseWatchEvent(std::string_view line,
                                   const std::shared_ptr<const FieldMask>& object_fields) {
  if (object_fields == nullptr) return ParseEvent(line, nullptr);
  const FieldMask event_fields = EventFields(object_fields);
  return ParseEvent(line, &event_fields);
}

bool IsInitialEventsEnd(const WatchEvent& event) {
  if (event.type != WatchEvent::Type::kBookmark) return false;
  const Json* md = event.object.is_object() && event.object.contains("metadata")
                       ? &event.object["metadata"]
                       : nullptr;
  if (md == nullptr || !md->is_object() || !md->contains("annotations")) return false;
  const Json& a = (*md)["annotations"];
  auto it = a.is_object() ? a.find("k8s.io/initial-events-end") : a.end();
  return it != a.end() && *it == "true";
}

Result<std::unique_ptr<Client>> Client::Create(const RestConfig& config, ClientOptions options) {
  ZENITH_ASSIGN_OR_RETURN(auto transport, MakeCppRestTransport(config));
  return std::make_unique<Client>(std::move(transport), options);
}

Client::Client(std::unique_ptr<Transport> transport, ClientOptions options)
    : transport_(std::move(transport)),
      options_(options),
      clock_(options.clock ? *options.clock : common::SystemClock::Get()),
      limiter_(options.qps, options.burst, clock_),
      breaker_("kube-apiserver", options.breaker, clock_) {}

Result<HttpResponse> Client::Execute(const HttpRequest& request, const std::string& what) {
  const bool idempotent = IsIdempotent(request.method);
  std::optional<common::Duration> retry_after;
  bool breaker_open = false;
  common::RetryOptions ro;
  ro.policy = options_.retry;
  ro.clock = &clock_;
  ro.seed = options_.seed;
  ro.classify = [&](const Status& s) -> common::RetryVerdict {
    if (breaker_open || s.code() == StatusCode::kCancelled) return {false, std::nullopt};
    const int code = ApiHttpCode(s);
    bool retry = false;
    if (code == 0) {
      // No answer: a refused or dropped connection. A timed-out write may have happened, so
      // only idempotent requests retry a timeout.
      retry = s.code() == StatusCode::kUnavailable ||
              (idempotent && s.code() == StatusCode::kDeadlineExceeded);
    } else if (code == 429 || code == 503 || code == 504 || code == 502) {
      retry = true;
    } else if (code >= 500) {
      retry = idempotent;
    }
    if (!retry) return {false, std::nullopt};
    std::optional<common::Duration> wait = retry_after;
    if (wait && *wait > std::chrono::seconds(30)) wait = std::chrono::seconds(30);
    return {true, wait};
  };
  ro.on_retry = [&](int attempt, const Status& error, common::Duration wait) {
    log::Debug("retrying API request",
               {{"attempt", attempt},
                {"error", error},
                {"wait_ms", std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()}});
  };
  return common::Retry(ro, [&](int attempt) -> Result<HttpResponse> {
    retry_after.reset();
    limiter_.Wait();
    if (Status allowed = breaker_.Allow(); !allowed.ok()) {
      breaker_open = true;
      return allowed.WithContext(what);
    }
    auto response = transport_->Send(request, nullptr);
    if (!response.ok()) {
      breaker_.RecordFailure();
      return response.status().WithContext(what);
    }
    if (response->status >= 500) {
      breaker_.RecordFailure();
    } else {
      breaker_.RecordSuccess();
    }
    if (response->status >= 400) {
      ApiError e = ParseApiError(response->status, response->body, response->Header("retry-after"));
      retry_after = e.retry_after;
      return ToStatus(e, what);
    }
    return response;
  });
}

Result<Json> Client::Do(const std::string& verb, const ResourceRef& ref, const std::string& method,
                        const std::string& query, const std::string& body,
                        const std::string& content_type, const FieldMask* fields) {
  HttpRequest req;
  req.method = method;
  req.path_and_query = ref.Path() + query;
  if (method == "POST" && ref.subresource.empty()) {
    // A create names its object in messages but posts to the collection.
    ResourceRef collection = ref;
    collection.name.clear();
    req.path_and_query = collection.Path() + query;
  }
  req.body = body;
  req.content_type = content_type;
  req.timeout = options_.request_timeout;
  const std::string what = verb + " " + ref.Describe();
  ZENITH_ASSIGN_OR_RETURN(HttpResponse resp, Execute(req, what));
  if (resp.body.empty()) return Json::object();
  if (fields != nullptr) {
    auto masked = ParseMasked(resp.body, *fields);
    if (!masked.ok())
      return DataLossError(what + ": the response is not JSON: " + masked.status().message());
    return std::move(*masked);
  }
  Json j = Json::parse(resp.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return DataLossError(what + ": the response is not JSON: '" + resp.body.substr(0, 120) + "'");
  }
  return j;
}

Result<Json> Client::Raw(const std::string& method, const std::string& path_and_query,
                         const std::string& body, const std::string& content_type) {
  HttpRequest req;
  req.method = method;
  req.path_and_query = path_and_query;
  req.body = body;
  req.content_type = content_type;
  req.timeout = options_.request_timeout;
  ZENITH_ASSIGN_OR_RETURN(HttpResponse resp, Execute(req, method + " " + path_and_query));
  Json j = Json::parse(resp.body, nullptr, false);
  if (j.is_discarded()) return Json(resp.body);
  return j;
}

namespace {

Query WriteQuery(const std::string& field_manager, bool dry_run) {
  Query q;
  q.AddIf("fieldManager", field_manager);
  if (dry_run) q.Add("dryRun", "All");
  return q;
}

std::string NamespaceFor(const GroupVersionResource& type, const std::string& ns,
                         const Json& object) {
  if (!type.namespaced) return "";
  return ns.empty() ? StringAt(object, "metadata", "namespace") : ns;
}

}  // namespace

Result<Json> Client::Get(const GroupVersionResource& type, const std::string& ns,
                         const std::string& name) {
  return Do("get", {type, ns, name, ""}, "GET", "", "", "");
}

Result<Json> Client::List(const GroupVersionResource& type, const std::string& ns,
                          const ListOptions& options) {
  if (options.fields == nullptr)
    return Do("list", {type, ns, "", ""}, "GET", ListQuery(options).ToString(), "", "");
  FieldMask list = FieldMask::Only({"apiVersion", "kind", "metadata"});
  list.With("items", options.fields);
  return Do("list", {type, ns, "", ""}, "GET", ListQuery(options).ToString(), "", "", &list);
}

Result<Json> Client::ListAll(const GroupVersionResource& type, const std::string& ns,
                             ListOptions options, const std::function<void(Json& item)>& each) {
  Json all;
  while (true) {
    ZENITH_ASSIGN_OR_RETURN(Json page, List(type, ns, options));
    std::string next = StringAt(page, "metadata", "continue");
    if (each && page.contains("items") && page["items"].is_array()) {
      for (auto& item : page["items"]) each(item);
    }
    if (all.is_null()) {
      all = std::move(page);
      if (!all.contains("items") || !all["items"].is_array()) all["items"] = Json::array();
    } else if (page.contains("items") && page["items"].is_array()) {
      for (auto& item : page["items"]) all["items"].push_back(std::move(item));
    }
    if (next.empty()) break;
    options.continue_token = next;
    options.resource_version.clear();  // a continued list pins the first page's version
  }
  if (all.contains("metadata") && all["metadata"].is_object()) all["metadata"].erase("continue");
  return all;
}

Result<Json> Client::Create(const GroupVersionResource& type, const std::string& ns,
                            const Json& object, const WriteOptions& options) {
  ResourceRef ref{type, NamespaceFor(type, ns, object), StringAt(object, "metadata", "name"), ""};
  if (ref.name.empty()) ref.name = StringAt(object, "metadata", "generateName") + "*";
  return Do("create", ref, "POST", WriteQuery(options.field_manager, options.dry_run).ToString(),
            object.dump(), "application/json");
}

Result<Json> Client::Update(const GroupVersionResource& type, const std::string& ns,
                            const Json& object, const WriteOptions& options) {
  ResourceRef ref{type, NamespaceFor(type, ns, object), StringAt(object, "metadata", "name"), ""};
  if (ref.name.empty())
    return InvalidArgumentError("update " + type.Name() + ": metadata.name is empty");
  return Do("update", ref, "PUT", WriteQuery(options.field_manager, options.dry_run).ToString(),
            object.dump(), "application/json");
}

Result<Json> Client::Patch(const GroupVersionResource& type, const std::string& ns,
                           const std::string& name, PatchType patch_type, const Json& patch,
                           const PatchOptions& options) {
  if (patch_type == PatchType::kStrategicMerge && !type.SupportsStrategicMerge()) {
    return InvalidArgumentError(
        "patch " + type.Name() + " " + name +
        ": strategic-merge patches need a built-in kind; use a merge patch");
  }
  if (patch_type == PatchType::kApply && options.field_manager.empty()) {
    return InvalidArgumentError("apply " + type.Name() + " " + name + ": fieldManager is required");
  }
  Query q = WriteQuery(options.field_manager, options.dry_run);
  if (patch_type == PatchType::kApply && options.force) q.Add("force", "true");
  return Do(patch_type == PatchType::kApply ? "apply" : "patch", {type, ns, name, ""}, "PATCH",
            q.ToString(), patch.dump(), PatchContentType(patch_type));
}

Result<Json> Client::Apply(const GroupVersionResource& type, const std::string& ns,
                           const Json& object, const std::string& field_manager, bool force) {
  std::string name = StringAt(object, "metadata", "name");
  if (name.empty())
    return InvalidArgumentError("apply " + type.Name() + ": metadata.name is empty");
  PatchOptions o;
  o.field_manager = field_manager;
  o.force = force;
  return Patch(type, NamespaceFor(type, ns, object), name, PatchType::kApply, object, o);
}

Result<Json> Client::Delete(const GroupVersionResource& type, const std::string& ns,
                            const std::string& name, const DeleteOptions& options) {
  Json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (options.precondition_uid || options.precondition_resource_version) {
    Json pre = Json::object();
    if (options.precondition_uid) pre["uid"] = *options.precondition_uid;
    if (options.precondition_resource_version) {
      pre["resourceVersion"] = *options.precondition_resource_version;
    }
    body["preconditions"] = pre;
  }
  return Do("delete", {type, ns, name, ""}, "DELETE", "", body.dump(), "application/json");
}

Result<Json> Client::GetStatus(const GroupVersionResource& type, const std::string& ns,
                               const std::string& name) {
  return Do("get", {type, ns, name, "status"}, "GET", "", "", "");
}

Result<Json> Client::UpdateStatus(const GroupVersionResource& type, const std::string& ns,
                                  const Json& object) {
  ResourceRef ref{type, NamespaceFor(type, ns, object), StringAt(object, "metadata", "name"),
                  "status"};
  if (ref.name.empty()) return InvalidArgumentError("update status: metadata.name is empty");
  return Do("update", ref, "PUT", "", object.dump(), "application/json");
}

Result<Json> Client::PatchStatus(const GroupVersionResource& type, const std::string& ns,
                                 const std::string& name, PatchType patch_type, const Json& patch) {
  if (patch_type == PatchType::kStrategicMerge && !type.SupportsStrategicMerge()) {
    return InvalidArgumentError("patch " + type.Name() + " " + name +
                                "/status: strategic-merge patches need a built-in kind");
  }
  return Do("patch", {type, ns, name, "status"}, "PATCH", "", patch.dump(),
            PatchContentType(patch_type));
}

Status Client::Bind(const std::string& ns, const std::string& pod, const std::string& node,
                    const std::string& pod_uid) {
  Json binding = {{"apiVersion", "v1"},
                  {"kind", "Binding"},
                  {"metadata", {{"name", pod}, {"namespace", ns}}},
                  {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  if (!pod_uid.empty()) binding["metadata"]["uid"] = pod_uid;
  auto r = Do("bind", {resources::Pods(), ns, pod, "binding"}, "POST", "", binding.dump(),
              "application/json");
  return r.status();
}

Result<Json> Client::CreateSubresource(const GroupVersionResource& type, const std::string& ns,
                                       const std::string& name, const std::string& subresource,
                                       const Json& body) {
  return Do("create", {type, ns, name, subresource}, "POST", "", body.dump(), "application/json");
}

Status Client::Watch(const GroupVersionResource& type, const std::string& ns,
                     const WatchOptions& options, const std::function<bool(WatchEvent&)>& on_event,
                     Cancellation* cancel) {
  ResourceRef ref{type, ns, "", ""};
  const std::string what =
      "watch " + ref.Describe() + " from resourceVersion " +
      (options.resource_version.empty() ? "(latest)" : options.resource_version);
  HttpRequest req;
  req.path_and_query = ref.Path() + WatchQuery(options).ToString();
  // The server ends the stream after timeoutSeconds; give it room before calling it dead.
  req.timeout = std::chrono::seconds(std::max(options.timeout_seconds, 1) + 30);
  // Not rate limited, as in client-go: a watch is one long request, its reconnects are paced by
  // the caller's backoff, and a token spent here would delay the writes the limit is for.
  ZENITH_RETURN_IF_ERROR(breaker_.Allow().WithContext(what));
  Status stream_error;
  std::optional<FieldMask> event_fields;
  if (options.fields != nullptr) event_fields = EventFields(options.fields);
  auto resp = transport_->Stream(
      req,
      [&](std::string_view line) {
        auto ev = ParseEvent(line, event_fields ? &*event_fields : nullptr);
        if (!ev.ok()) {
          stream_error = ev.status().WithContext(what);
          return false;
        }
        if (ev->type == WatchEvent::Type::kError) {
          ApiError e = ParseApiError(0, ev->object.dump());
          if (e.http_code == 0) e.http_code = 500;
          if (e.reason.empty()) e.reason = "InternalError";
          stream_error = ToStatus(e, what);
          return false;
        }
        return on_event(*ev);
      },
      cancel);
  if (!resp.ok()) {
    if (resp.status().code() != StatusCode::kCancelled) {
      breaker_.RecordFailure();
    } else {
      breaker_.RecordSuccess();
    }
    return resp.status().WithContext(what);
  }
  if (resp->status >= 500) {
    breaker_.RecordFailure();
  } else {
    breaker_.RecordSuccess();
  }
  if (resp->status != 200) {
    return ToStatus(ParseApiError(resp->status, resp->body, resp->Header("retry-after")), what);
  }
  return stream_error;
}

}  // namespace zenith::kube
