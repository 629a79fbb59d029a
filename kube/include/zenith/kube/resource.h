// Names a kind of object on the API server (group, version, plural resource, scope) and turns
// a reference to one of them into its REST path and query string. Pure string building: no
// I/O, so every path the client sends is unit-tested here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zenith/kube/field_mask.h"

namespace zenith::kube {

struct GroupVersionResource {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case: "pods"
  bool namespaced = true;
  std::string kind;  // "Pod", for objects this client builds (Binding, Lease)

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "/api/v1" or "/apis/coordination.k8s.io/v1".
  std::string GroupVersionPath() const;
  // "pods", "leases.coordination.k8s.io", for messages.
  std::string Name() const { return group.empty() ? resource : resource + "." + group; }
  // Core kinds accept strategic-merge patches; custom resources do not.
  bool SupportsStrategicMerge() const;
};

namespace resources {
GroupVersionResource Pods();
GroupVersionResource ConfigMaps();
GroupVersionResource Secrets();
GroupVersionResource Services();
GroupVersionResource Nodes();
GroupVersionResource Events();
GroupVersionResource Namespaces();
GroupVersionResource ServiceAccounts();
GroupVersionResource Leases();
GroupVersionResource CustomResourceDefinitions();
// Any custom resource: Custom("zenith.ai", "v1alpha1", "zenithjobs").
GroupVersionResource Custom(std::string group, std::string version, std::string resource,
                            bool namespaced = true, std::string kind = "");
}  // namespace resources

// One object or collection: namespace and name may be empty (collection, all namespaces).
struct ResourceRef {
  GroupVersionResource type;
  std::string namespace_;
  std::string name;
  std::string subresource;  // "status", "binding", "token", ...

  // "/api/v1/namespaces/ns/pods/p/status". Cluster-scoped types ignore namespace_.
  std::string Path() const;
  // "configmaps default/x", for messages.
  std::string Describe() const;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // 0: no limit (the server may still page)
  std::string continue_token;
  std::string resource_version;
  std::string resource_version_match;  // "NotOlderThan" or "Exact"
  int timeout_seconds = 0;
  // Not sent: decode only these fields of each item (field_mask.h); null keeps everything.
  std::shared_ptr<const FieldMask> fields;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;
  bool allow_bookmarks = true;
  int timeout_seconds = 60;  // the server ends the stream after this; the client reconnects
  // A streamed list (Kubernetes' WatchList): the stream starts with an ADDED event for every
  // object at or after resource_version (empty: as of now, a consistent read), then a BOOKMARK
  // annotated k8s.io/initial-events-end, then the changes. Needs allow_bookmarks.
  bool send_initial_events = false;
  // Not sent: decode only these fields of each event's object (field_mask.h); null keeps
  // everything. BOOKMARK and ERROR events are always decoded whole.
  std::shared_ptr<const FieldMask> fields;
};

// Builds "?a=b&c=d" with each value percent-encoded; empty when there are no parameters.
class Query {
 public:
  Query& Add(const std::string& key, const std::string& value);
  Query& AddIf(const std::string& key, const std::string& value) {
    return value.empty() ? *this : Add(key, value);
  }
  std::string ToString() const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

std::string PercentEncode(const std::string& text);
Query ListQuery(const ListOptions& options);
Query WatchQuery(const WatchOptions& options);

}  // namespace zenith::kube
