// Publishes what the device plugin knows about its node for the scheduler to read: a
// cluster-scoped ZenithNode object (named after the Node, owned by it, so it goes when the Node
// goes) holding the whole topology and health, and zenith.ai/gpu.* labels on the Node for
// selectors and `kubectl get nodes -L`. Writes are server-side applies under one field manager:
// idempotent, so publishing the same topology again changes nothing, and labels this plugin set
// earlier but no longer wants are removed. It never touches fields other managers own.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "zenith/common/status.h"
#include "zenith/deviceplugin/topology.h"
#include "zenith/kube/client.h"
#include "zenith/kube/resource.h"

namespace zenith::deviceplugin {

// zenithnodes.zenith.ai/v1alpha1, cluster-scoped (crds/zenith.ai_zenithnodes.yaml).
kube::GroupVersionResource ZenithNodes();

// The labels a node with this topology carries: zenith.ai/gpu.product (the GPU name made a
// valid label value, "mixed" when the GPUs differ), .count, .memory (MiB of the smallest GPU),
// .nvlink and .nvswitch ("true"/"false"). A node without GPUs gets count "0" and no product.
std::map<std::string, std::string> NodeLabels(const NodeTopology& topology);

// Makes `text` a valid label value: at most 63 characters of [A-Za-z0-9._-], beginning and ending
// with an alphanumeric; other characters become '-'. Empty when nothing usable remains.
std::string LabelValue(const std::string& text);

// The ZenithNode object for `node_name` (whose Node has `node_uid`): spec.nodeName,
// status.topology (TopologyToJson) and the summary fields the printer columns show.
nlohmann::json ZenithNodeObject(const std::string& node_name, const std::string& node_uid,
                                const std::string& resource_name, const NodeTopology& topology);

struct NodePublisherOptions {
  std::string node_name;                        // the Node this plugin serves
  std::string resource_name = "zenith.ai/gpu";  // recorded in the ZenithNode for the scheduler
  std::string field_manager = "zenith-device-plugin";
};

class NodePublisher {
 public:
  NodePublisher(kube::Client& client, NodePublisherOptions options);

  // Brings the ZenithNode and the Node's labels in line with `topology` (health included).
  // Errors name the object: NOT_FOUND when the Node does not exist (yet), the API server's
  // reason otherwise. Safe to call again at any time, e.g. on every health change and on a
  // resync timer; the caller retries failures with its backoff.
  Status Publish(const NodeTopology& topology);

  uint64_t publishes() const { return publishes_; }

 private:
  kube::Client& client_;
  const NodePublisherOptions options_;
  uint64_t publishes_ = 0;
};

}  // namespace zenith::deviceplugin
