// A read-through cache of one kind of object, kept current by a ResumableWatch, with add /
// update / delete handlers. After a re-list (410 Expired, or a restart that lost events) the
// cache is reconciled with the list: objects missing from it are delivered as deletes, so a
// controller never keeps acting on something that is gone. Handlers run one at a time, in
// order (on the watch's thread or the transport's I/O thread, so they must not block on this
// informer's Stop()), after the cache is updated, and may read the cache. A transform (client-go's
// SetTransform) trims each object before it is stored, so the cache keeps only what its reader
// uses; stored objects are immutable and shared, so a reader takes a snapshot without copying.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "zenith/kube/watch.h"

namespace zenith::kube {

// Trims an object in place before the cache stores it and the handlers see it. It must keep
// metadata.name, metadata.namespace and metadata.resourceVersion (the cache's key and version).
using InformerTransform = std::function<void(Json& object)>;

// Everything but metadata.managedFields (server-side apply's bookkeeping; often the largest part
// of a small object), which no controller reads: for SetFields.
std::shared_ptr<const FieldMask> AllButManagedFields();

// An immutable object the cache and its readers share.
using SharedObject = std::shared_ptr<const Json>;

struct InformerHandlers {
  std::function<void(const Json& object)> on_add;
  std::function<void(const Json& old_object, const Json& new_object)> on_update;
  std::function<void(const Json& last_known)> on_delete;
};

class Informer {
 public:
  Informer(Client& client, GroupVersionResource type, ResumableWatchOptions options = {});
  ~Informer();

  // Before Start().
  void AddHandlers(InformerHandlers handlers);
  void SetTransform(InformerTransform transform);
  // Before Start(): decode only these fields of each object (field_mask.h). Cheaper than a
  // transform for what is left out, which is never built; the transform then sees the rest.
  void SetFields(std::shared_ptr<const FieldMask> fields);
  void Start();
  void Stop();

  // True once the first list is in the cache and every handler has been called for it.
  bool HasSynced() const;
  // Waits for HasSynced; false on timeout.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  // Key: "namespace/name", or "name" for cluster-scoped objects.
  std::optional<Json> Get(const std::string& key) const;
  std::vector<Json> List() const;
  // The same without copying an object: what the cache holds now, shared.
  SharedObject GetShared(const std::string& key) const;
  std::vector<SharedObject> ListShared() const;
  std::vector<std::string> Keys() const;
  size_t Size() const;

  uint64_t relists() const { return watch_ ? watch_->relists() : 0; }
  uint64_t reconnects() const { return watch_ ? watch_->reconnects() : 0; }
  uint64_t list_requests() const { return watch_ ? watch_->list_requests() : 0; }
  std::string last_resource_version() const;

 private:
  void OnRelist(std::vector<Json>& items, const std::string& rv, bool initial);
  void OnEvent(WatchEvent& event);

  Client& client_;
  const GroupVersionResource type_;
  ResumableWatchOptions options_;  // fields may be set until Start()
  std::vector<InformerHandlers> handlers_;
  InformerTransform transform_;
  mutable std::mutex mu_;
  mutable std::condition_variable synced_cv_;
  std::map<std::string, SharedObject> cache_;
  bool synced_ = false;
  std::unique_ptr<ResumableWatch> watch_;
};

}  // namespace zenith::kube
