// What the gang scheduler's informers keep of each object: only the fields the snapshot,
// the cycle's inputs and the evictions read. A 1000-node cluster's Nodes and Pods carry
// managedFields, images, conditions and container details the scheduler never looks at;
// dropping them before they are stored is most of the operator's memory. These must never
// drop a field kube_convert.h or cycle_inputs.h reads: a test pins each one.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "zenith/kube/field_mask.h"

namespace zenith::operator_::gang {

// Node: metadata (name, labels, uid, resourceVersion), spec.taints and spec.unschedulable,
// status.allocatable and the Ready condition.
void TrimNode(nlohmann::json& node);
// Pod: metadata (name, namespace, uid, resourceVersion, labels, deletionTimestamp, the GPU
// indices annotation), spec (nodeName, schedulerName, containers' and init containers'
// resources and restartPolicy), status.phase.
void TrimPod(nlohmann::json& pod);

// What the informers decode in the first place (a superset of what the trims keep, so nothing
// else is ever built): a node's and a pod's fields above, with whole annotations and conditions
// for the trims to pick from.
std::shared_ptr<const kube::FieldMask> NodeFields();
std::shared_ptr<const kube::FieldMask> PodFields();
// ZenithNode: all but managedFields and what only the device plugin and the kubelet use of the
// topology (GPU UUIDs, PCI addresses, CPU lists, its source): the scheduler places by GPU
// index, NUMA node and links.
std::shared_ptr<const kube::FieldMask> ZenithNodeFields();

}  // namespace zenith::operator_::gang
