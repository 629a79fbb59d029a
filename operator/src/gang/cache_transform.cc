#include "zenith/operator/gang/cache_transform.h"

#include <initializer_list>
#include <string>
#include <string_view>

#include "zenith/operator/scheduler/snapshot.h"

namespace zenith::operator_::gang {

using nlohmann::json;

namespace {

// `from`'s `keys` (those present), moved out of it.
template <typename Keys>
json KeepKeys(json& from, const Keys& keys) {
  json out = json::object();
  if (!from.is_object()) return out;
  for (const char* k : keys) {
    auto it = from.find(k);
    if (it != from.end()) out[k] = std::move(*it);
  }
  return out;
}

json Keep(json& from, std::initializer_list<const char*> keys) { return KeepKeys(from, keys); }

// The metadata the trims keep whole; of the annotations they keep only the GPU indices. The
// field masks below are built from the same list.
constexpr const char* kMetadataKeys[] = {"name",
                                         "namespace",
                                         "uid",
                                         "resourceVersion",
                                         "labels",
                                         "creationTimestamp",
                                         "deletionTimestamp"};

json KeepMetadata(json& obj) {
  json& from = obj["metadata"];
  json md = KeepKeys(from, kMetadataKeys);
  if (from.is_object() && from.contains("annotations")) {
    json& ann = from["annotations"];
    if (ann.is_object() && ann.contains(scheduler::kGpuIndicesAnnotation)) {
      md["annotations"][scheduler::kGpuIndicesAnnotation] =
          std::move(ann[scheduler::kGpuIndicesAnnotation]);
    }
  }
  return md;
}

// What KeepMetadata reads, added to `m`.
kube::FieldMask& KeepMetadataFields(kube::FieldMask& m) {
  for (const char* k : kMetadataKeys) m.Keep(std::string("metadata.") + k);
  return m.Keep("metadata.annotations");
}

json KeepContainers(json& list) {
  if (!list.is_array()) return std::move(list);  // malformed: kept for the parser to report
  json out = json::array();
  for (json& c : list) out.push_back(Keep(c, {"name", "resources", "restartPolicy"}));
  return out;
}

}  // namespace

void TrimNode(json& node) {
  if (!node.is_object()) return;
  json out = {{"metadata", KeepMetadata(node)}};
  json spec = Keep(node["spec"], {"taints", "unschedulable"});
  if (!spec.empty()) out["spec"] = std::move(spec);
  json& from = node["status"];
  json status = Keep(from, {"allocatable"});
  if (from.is_object() && from.contains("conditions") && from["conditions"].is_array()) {
    for (json& c : from["conditions"]) {
      if (c.is_object() && c.value("type", "") == "Ready")
        status["conditions"].push_back(Keep(c, {"type", "status"}));
    }
  }
  if (!status.empty()) out["status"] = std::move(status);
  node = std::move(out);
}

void TrimPod(json& pod) {
  if (!pod.is_object()) return;
  json out = {{"metadata", KeepMetadata(pod)}};
  json& spec = pod["spec"];
  json s = Keep(spec, {"nodeName", "schedulerName"});
  if (spec.is_object() && spec.contains("containers"))
    s["containers"] = KeepContainers(spec["containers"]);
  if (spec.is_object() && spec.contains("initContainers"))
    s["initContainers"] = KeepContainers(spec["initContainers"]);
  out["spec"] = std::move(s);
  json status = Keep(pod["status"], {"phase"});
  if (!status.empty()) out["status"] = std::move(status);
  pod = std::move(out);
}

std::shared_ptr<const kube::FieldMask> NodeFields() {
  static const auto kMask = [] {
    kube::FieldMask m = kube::FieldMask::Only(
        {"spec.taints", "spec.unschedulable", "status.allocatable", "status.conditions"});
    KeepMetadataFields(m);
    return std::make_shared<const kube::FieldMask>(std::move(m));
  }();
  return kMask;
}

std::shared_ptr<const kube::FieldMask> PodFields() {
  static const auto kMask = [] {
    kube::FieldMask m =
        kube::FieldMask::Only({"spec.nodeName", "spec.schedulerName", "status.phase"});
    KeepMetadataFields(m);
    for (std::string_view list : {"spec.containers.", "spec.initContainers."})
      for (std::string_view field : {"name", "resources", "restartPolicy"})
        m.Keep(std::string(list) + std::string(field));
    return std::make_shared<const kube::FieldMask>(std::move(m));
  }();
  return kMask;
}

std::shared_ptr<const kube::FieldMask> ZenithNodeFields() {
  static const auto kMask = [] {
    kube::FieldMask m;
    for (std::string_view path :
         {"metadata.managedFields", "status.topology.source", "status.topology.gpus.uuid",
          "status.topology.gpus.pci_bus_id", "status.topology.gpus.cpus",
          "status.topology.numa_nodes.cpus", "status.topology.nics.pci_bus_id"})
      m.Drop(path);
    return std::make_shared<const kube::FieldMask>(std::move(m));
  }();
  return kMask;
}

}  // namespace zenith::operator_::gang
