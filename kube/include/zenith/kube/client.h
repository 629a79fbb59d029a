// Typed requests to the API server: get, list, create, update, patch, delete, the status
// subresource, pods/binding, and one watch stream. Objects are nlohmann::json. Every request
// passes the circuit breaker and, except watches (as in client-go), the client-side rate
// limiter, and is retried with backoff on 429, 5xx and dropped connections (honouring
// Retry-After); API failures come back as Status values that keep the server's reason (see
// api_error.h). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "zenith/common/circuit_breaker.h"
#include "zenith/common/clock.h"
#include "zenith/common/retry.h"
#include "zenith/common/status.h"
#include "zenith/kube/api_error.h"
#include "zenith/kube/config.h"
#include "zenith/kube/field_mask.h"
#include "zenith/kube/rate_limiter.h"
#include "zenith/kube/resource.h"
#include "zenith/kube/transport.h"

namespace zenith::kube {

using Json = nlohmann::json;

struct ClientOptions {
  double qps = 50;  // <= 0: no client-side limit
  int burst = 100;
  std::chrono::milliseconds request_timeout{30000};
  common::BackoffPolicy retry{std::chrono::milliseconds(250),
                              std::chrono::seconds(4),
                              2.0,
                              0.2,
                              /*max_attempts=*/6,
                              /*max_elapsed=*/std::chrono::seconds(30)};
  common::CircuitBreakerOptions breaker{/*failure_threshold=*/10, std::chrono::seconds(3), 1, 1};
  common::Clock* clock = nullptr;  // null: the system clock
  uint64_t seed = 1;
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };
std::string PatchContentType(PatchType type);

struct WriteOptions {
  std::string field_manager;
  bool dry_run = false;
};

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
  bool dry_run = false;
};

struct DeleteOptions {
  std::string propagation_policy;  // "Foreground", "Background" or "Orphan"
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::optional<int64_t> grace_period_seconds;
};

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  Json object;
};
std::string_view WatchEventTypeName(WatchEvent::Type type);

// Parses one line of a watch stream; with `object_fields`, only those fields of an ADDED,
// MODIFIED or DELETED event's object (a BOOKMARK or ERROR is read whole).
Result<WatchEvent> ParseWatchEvent(std::string_view line,
                                   const std::shared_ptr<const FieldMask>& object_fields = nullptr);

// The BOOKMARK that ends a streamed list's initial events (annotation k8s.io/initial-events-end).
bool IsInitialEventsEnd(const WatchEvent& event);

class Client {
 public:
  // Builds the HTTPS transport for `config`.
  static Result<std::unique_ptr<Client>> Create(const RestConfig& config,
                                                ClientOptions options = {});
  Client(std::unique_ptr<Transport> transport, ClientOptions options);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  Result<Json> Get(const GroupVersionResource& type, const std::string& ns,
                   const std::string& name);
  // One page; follow metadata.continue yourself or use ListAll.
  Result<Json> List(const GroupVersionResource& type, const std::string& ns,
                    const ListOptions& options = {});
  // Every page, items concatenated; the result's resourceVersion is the first page's. `each`,
  // when set, trims every item as its page arrives (an informer's transform), so a large list
  // is never held whole untrimmed.
  Result<Json> ListAll(const GroupVersionResource& type, const std::string& ns,
                       ListOptions options = {},
                       const std::function<void(Json& item)>& each = nullptr);
  // `ns` empty: the object's metadata.namespace.
  Result<Json> Create(const GroupVersionResource& type, const std::string& ns, const Json& object,
                      const WriteOptions& options = {});
  // PUT; metadata.resourceVersion in `object` makes it conditional (409 Conflict when stale).
  Result<Json> Update(const GroupVersionResource& type, const std::string& ns, const Json& object,
                      const WriteOptions& options = {});
  Result<Json> Patch(const GroupVersionResource& type, const std::string& ns,
                     const std::string& name, PatchType patch_type, const Json& patch,
                     const PatchOptions& options = {});
  // Server-side apply of `object` (its metadata.name) as `field_manager`.
  Result<Json> Apply(const GroupVersionResource& type, const std::string& ns, const Json& object,
                     const std::string& field_manager, bool force = false);
  Result<Json> Delete(const GroupVersionResource& type, const std::string& ns,
                      const std::string& name, const DeleteOptions& options = {});

  Result<Json> GetStatus(const GroupVersionResource& type, const std::string& ns,
                         const std::string& name);
  Result<Json> UpdateStatus(const GroupVersionResource& type, const std::string& ns,
                            const Json& object);
  Result<Json> PatchStatus(const GroupVersionResource& type, const std::string& ns,
                           const std::string& name, PatchType patch_type, const Json& patch);
  // POST pods/<pod>/binding: binds the pod to `node` (a scheduler's one write).
  Status Bind(const std::string& ns, const std::string& pod, const std::string& node,
              const std::string& pod_uid = "");
  // POST to a subresource: serviceaccounts/<n>/token (TokenRequest), pods/<n>/eviction, ...
  Result<Json> CreateSubresource(const GroupVersionResource& type, const std::string& ns,
                                 const std::string& name, const std::string& subresource,
                                 const Json& body);

  // One watch request: calls on_event for each event until the server ends the stream (OK),
  // on_event returns false (OK), `cancel` fires (CANCELLED) or it fails. An ERROR event comes
  // back as its Status (410 Expired: IsGone()); BOOKMARKs are delivered so the caller can keep
  // the resourceVersion. No retries here: ResumableWatch resumes. on_event may run on the
  // transport's I/O thread rather than the caller's; calls never overlap, and none comes after
  // Watch returns.
  Status Watch(const GroupVersionResource& type, const std::string& ns, const WatchOptions& options,
               const std::function<bool(WatchEvent&)>& on_event, Cancellation* cancel = nullptr);

  // Any request: body and result are JSON text; for paths the typed calls do not cover.
  Result<Json> Raw(const std::string& method, const std::string& path_and_query,
                   const std::string& body = "", const std::string& content_type = "");

  common::Clock& clock() { return clock_; }
  const common::CircuitBreaker& breaker() const { return breaker_; }
  const ClientOptions& options() const { return options_; }

 private:
  Result<Json> Do(const std::string& verb, const ResourceRef& ref, const std::string& method,
                  const std::string& query, const std::string& body,
                  const std::string& content_type, const FieldMask* fields = nullptr);
  Result<HttpResponse> Execute(const HttpRequest& request, const std::string& what);

  std::unique_ptr<Transport> transport_;
  ClientOptions options_;
  common::Clock& clock_;
  TokenBucket limiter_;
  common::CircuitBreaker breaker_;
};

// "ns/name", or "name" for cluster-scoped objects: the informer's and work queue's key.
std::string ObjectKey(const Json& object);
std::string ResourceVersionOf(const Json& object);

}  // namespace zenith::kube
