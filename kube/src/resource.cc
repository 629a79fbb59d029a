#include "zenith/kube/resource.h"

#include <cctype>

namespace zenith::kube {

std::string GroupVersionResource::GroupVersionPath() const {
  return group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
}

bool GroupVersionResource::SupportsStrategicMerge() const {
  static const char* kBuiltIn[] = {"",
                                   "apps",
                                   "batch",
                                   "coordination.k8s.io",
                                   "policy",
                                   "autoscaling",
                                   "networking.k8s.io",
                                   "rbac.authorization.k8s.io",
                                   "storage.k8s.io",
                                   "scheduling.k8s.io",
                                   "discovery.k8s.io"};
  for (const char* g : kBuiltIn) {
    if (group == g) return true;
  }
  return false;
}

namespace resources {
namespace {
GroupVersionResource Core(std::string resource, std::string kind, bool namespaced = true) {
  return {"", "v1", std::move(resource), namespaced, std::move(kind)};
}
}  // namespace

GroupVersionResource Pods() { return Core("pods", "Pod"); }
GroupVersionResource ConfigMaps() { return Core("configmaps", "ConfigMap"); }
GroupVersionResource Secrets() { return Core("secrets", "Secret"); }
GroupVersionResource Services() { return Core("services", "Service"); }
GroupVersionResource Nodes() { return Core("nodes", "Node", false); }
GroupVersionResource Events() { return Core("events", "Event"); }
GroupVersionResource Namespaces() { return Core("namespaces", "Namespace", false); }
GroupVersionResource ServiceAccounts() { return Core("serviceaccounts", "ServiceAccount"); }
GroupVersionResource Leases() { return {"coordination.k8s.io", "v1", "leases", true, "Lease"}; }
GroupVersionResource CustomResourceDefinitions() {
  return {"apiextensions.k8s.io", "v1", "customresourcedefinitions", false,
          "CustomResourceDefinition"};
}
GroupVersionResource Custom(std::string group, std::string version, std::string resource,
                            bool namespaced, std::string kind) {
  return {std::move(group), std::move(version), std::move(resource), namespaced, std::move(kind)};
}
}  // namespace resources

std::string PercentEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string ResourceRef::Path() const {
  std::string path = type.GroupVersionPath();
  if (type.namespaced && !namespace_.empty()) path += "/namespaces/" + PercentEncode(namespace_);
  path += "/" + type.resource;
  if (!name.empty()) {
    path += "/" + PercentEncode(name);
    if (!subresource.empty()) path += "/" + subresource;
  }
  return path;
}

std::string ResourceRef::Describe() const {
  std::string out = type.Name();
  if (!subresource.empty()) out += "/" + subresource;
  out += " ";
  if (type.namespaced && !namespace_.empty()) out += namespace_ + "/";
  out += name.empty() ? "(collection)" : name;
  return out;
}

Query& Query::Add(const std::string& key, const std::string& value) {
  params_.emplace_back(key, value);
  return *this;
}

std::string Query::ToString() const {
  std::string out;
  for (const auto& [k, v] : params_) {
    out += out.empty() ? "?" : "&";
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

Query ListQuery(const ListOptions& o) {
  Query q;
  q.AddIf("labelSelector", o.label_selector).AddIf("fieldSelector", o.field_selector);
  if (o.limit > 0) q.Add("limit", std::to_string(o.limit));
  q.AddIf("continue", o.continue_token).AddIf("resourceVersion", o.resource_version);
  q.AddIf("resourceVersionMatch", o.resource_version_match);
  if (o.timeout_seconds > 0) q.Add("timeoutSeconds", std::to_string(o.timeout_seconds));
  return q;
}

Query WatchQuery(const WatchOptions& o) {
  Query q;
  q.Add("watch", "1");
  if (o.allow_bookmarks || o.send_initial_events) q.Add("allowWatchBookmarks", "true");
  q.AddIf("labelSelector", o.label_selector).AddIf("fieldSelector", o.field_selector);
  q.AddIf("resourceVersion", o.resource_version);
  if (o.send_initial_events) {
    q.Add("sendInitialEvents", "true").Add("resourceVersionMatch", "NotOlderThan");
  }
  if (o.timeout_seconds > 0) q.Add("timeoutSeconds", std::to_string(o.timeout_seconds));
  return q;
}

}  // namespace zenith::kube
