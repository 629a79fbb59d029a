#include "zenith/deviceplugin/node_publisher.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace zenith::deviceplugin {

using nlohmann::json;

kube::GroupVersionResource ZenithNodes() {
  return kube::resources::Custom("zenith.ai", "v1alpha1", "zenithnodes", /*namespaced=*/false,
                                 "ZenithNode");
}

std::string LabelValue(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out.push_back(ok ? c : '-');
  }
  if (out.size() > 63) out.resize(63);
  // A value must begin and end with an alphanumeric.
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  while (!out.empty() && !alnum(out.back())) out.pop_back();
  size_t first = 0;
  while (first < out.size() && !alnum(out[first])) ++first;
  return out.substr(first);
}

namespace {

bool AnyNvlink(const NodeTopology& t) {
  for (const auto& row : t.nvlink) {
    for (int links : row) {
      if (links > 0) return true;
    }
  }
  return false;
}

std::string Product(const NodeTopology& t) {
  if (t.gpus.empty()) return "";
  for (const Gpu& g : t.gpus) {
    if (g.name != t.gpus.front().name) return "mixed";
  }
  return t.gpus.front().name;
}

uint64_t SmallestMemory(const NodeTopology& t) {
  uint64_t smallest = 0;
  for (const Gpu& g : t.gpus) {
    if (smallest == 0 || g.memory_bytes < smallest) smallest = g.memory_bytes;
  }
  return smallest;
}

const char* Bool(bool b) { return b ? "true" : "false"; }

}  // namespace

std::map<std::string, std::string> NodeLabels(const NodeTopology& topology) {
  std::map<std::string, std::string> labels;
  labels["zenith.ai/gpu.count"] = std::to_string(topology.gpus.size());
  labels["zenith.ai/gpu.nvlink"] = Bool(AnyNvlink(topology));
  labels["zenith.ai/gpu.nvswitch"] = Bool(topology.nvswitch);
  if (!topology.gpus.empty()) {
    labels["zenith.ai/gpu.memory"] = std::to_string(SmallestMemory(topology) >> 20);
    const std::string product = LabelValue(Product(topology));
    if (!product.empty()) labels["zenith.ai/gpu.product"] = product;
  }
  return labels;
}

json ZenithNodeObject(const std::string& node_name, const std::string& node_uid,
                      const std::string& resource_name, const NodeTopology& topology) {
  const auto healthy = std::count_if(topology.gpus.begin(), topology.gpus.end(),
                                     [](const Gpu& g) { return g.healthy; });
  const auto rdma = std::count_if(topology.nics.begin(), topology.nics.end(),
                                  [](const Nic& n) { return n.rdma; });
  json owner = {{"apiVersion", "v1"},
                {"kind", "Node"},
                {"name", node_name},
                {"uid", node_uid},
                {"blockOwnerDeletion", false}};
  return {{"apiVersion", "zenith.ai/v1alpha1"},
          {"kind", "ZenithNode"},
          {"metadata",
           {{"name", node_name},
            {"labels", {{"app.kubernetes.io/managed-by", "zenith-device-plugin"}}},
            {"ownerReferences", json::array({owner})}}},
          {"spec", {{"nodeName", node_name}}},
          {"status",
           {{"resourceName", resource_name},
            {"gpuCount", topology.gpus.size()},
            {"healthyGpus", healthy},
            {"product", Product(topology)},
            {"gpuMemoryBytes", SmallestMemory(topology)},
            {"nvlink", AnyNvlink(topology)},
            {"nvswitch", topology.nvswitch},
            {"rdmaNics", rdma},
            {"topology", TopologyToJson(topology)}}}};
}

NodePublisher::NodePublisher(kube::Client& client, NodePublisherOptions options)
    : client_(client), options_(std::move(options)) {}

Status NodePublisher::Publish(const NodeTopology& topology) {
  const std::string& node = options_.node_name;
  if (node.empty()) return InvalidArgumentError("publishing the topology needs the node name");
  auto current = client_.Get(kube::resources::Nodes(), "", node);
  if (!current.ok()) {
    if (kube::IsNotFound(current.status())) {
      return NotFoundError("node " + node + " does not exist; its ZenithNode needs it as owner");
    }
    return current.status().WithContext("reading node " + node);
  }
  const std::string uid = current->value("/metadata/uid"_json_pointer, std::string());

  const json object = ZenithNodeObject(node, uid, options_.resource_name, topology);
  auto applied = client_.Apply(ZenithNodes(), "", object, options_.field_manager, /*force=*/true);
  if (!applied.ok()) return applied.status().WithContext("publishing zenithnode " + node);

  json labels = json::object();
  for (const auto& [key, value] : NodeLabels(topology)) labels[key] = value;
  const json node_patch = {
      {"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", node}, {"labels", labels}}}};
  auto labelled = client_.Apply(kube::resources::Nodes(), "", node_patch, options_.field_manager,
                                /*force=*/true);
  if (!labelled.ok()) return labelled.status().WithContext("labelling node " + node);
  ++publishes_;
  return Status::Ok();
}

}  // namespace zenith::deviceplugin
