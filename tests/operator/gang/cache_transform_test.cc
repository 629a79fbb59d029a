#include "zenith/operator/gang/cache_transform.h"

#include <gtest/gtest.h>

#include "zenith/deviceplugin/topology.h"
#include "zenith/operator/scheduler/kube_convert.h"

namespace zenith::operator_::gang {
namespace {

using nlohmann::json;

json FullNode() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "n1", "uid": "u1", "resourceVersion": "7",
                 "labels": {"rack": "r1"}, "annotations": {"big": "x"},
                 "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}]},
    "spec": {"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}],
             "unschedulable": true, "podCIDR": "10.0.0.0/24"},
    "status": {"allocatable": {"zenith.ai/gpu": "8", "cpu": "64"},
               "capacity": {"zenith.ai/gpu": "8"},
               "images": [{"names": ["a"], "sizeBytes": 1}],
               "conditions": [{"type": "MemoryPressure", "status": "False"},
                              {"type": "Ready", "status": "False", "message": "kubelet down"}],
               "nodeInfo": {"kubeletVersion": "v1.31"}}})");
}

json FullPod() {
  return json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "w-0", "namespace": "ml", "uid": "p1", "resourceVersion": "9",
                 "labels": {"zenith.ai/job": "w"}, "deletionTimestamp": "2026-01-01T00:00:00Z",
                 "annotations": {"zenith.ai/gpu-indices": "0,1", "other": "x"},
                 "ownerReferences": [{"kind": "ZenithJob"}],
                 "managedFields": [{"manager": "zenith"}]},
    "spec": {"nodeName": "n1", "schedulerName": "zenith", "volumes": [{"name": "v"}],
             "containers": [{"name": "t", "image": "i", "env": [{"name": "A"}],
                             "resources": {"limits": {"zenith.ai/gpu": "2"}}}],
             "initContainers": [{"name": "s", "restartPolicy": "Always", "image": "i",
                                 "resources": {"requests": {"cpu": "1"}}}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready"}],
               "containerStatuses": [{"name": "t"}]}})");
}

// What `trim` leaves of `full`.
json Trimmed(json full, void (*trim)(json&)) {
  trim(full);
  return full;
}

TEST(CacheTransform, NodeKeepsWhatTheSnapshotReads) {
  const json full = FullNode();
  json trimmed = Trimmed(full, TrimNode);
  EXPECT_FALSE(trimmed["metadata"].contains("managedFields"));
  EXPECT_FALSE(trimmed["metadata"].contains("annotations"));
  EXPECT_FALSE(trimmed["status"].contains("images"));
  EXPECT_FALSE(trimmed["spec"].contains("podCIDR"));
  EXPECT_EQ(trimmed["metadata"]["resourceVersion"], "7");
  auto a = scheduler::NodeFromJson(full);
  auto b = scheduler::NodeFromJson(trimmed);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_EQ(a->labels, b->labels);
  EXPECT_EQ(a->taints, b->taints);
  EXPECT_EQ(a->allocatable, b->allocatable);
  EXPECT_TRUE(b->unschedulable);
  EXPECT_LT(trimmed.dump().size(), full.dump().size() / 2);
}

TEST(CacheTransform, PodKeepsWhatTheSnapshotAndEvictionsRead) {
  const json full = FullPod();
  json trimmed = Trimmed(full, TrimPod);
  EXPECT_FALSE(trimmed["metadata"].contains("managedFields"));
  EXPECT_FALSE(trimmed["metadata"].contains("ownerReferences"));
  EXPECT_FALSE(trimmed["metadata"]["annotations"].contains("other"));
  EXPECT_FALSE(trimmed["spec"].contains("volumes"));
  EXPECT_FALSE(trimmed["spec"]["containers"][0].contains("env"));
  EXPECT_FALSE(trimmed["status"].contains("containerStatuses"));
  EXPECT_EQ(trimmed["spec"]["schedulerName"], "zenith");
  EXPECT_EQ(trimmed["metadata"]["labels"]["zenith.ai/job"], "w");
  EXPECT_EQ(trimmed["metadata"]["uid"], "p1");
  EXPECT_FALSE(trimmed["metadata"]["deletionTimestamp"].is_null());
  auto a = scheduler::PodUsageFromJson(full);
  auto b = scheduler::PodUsageFromJson(trimmed);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_EQ(a->key, b->key);
  EXPECT_EQ(a->node, b->node);
  EXPECT_EQ(a->requests, b->requests);
  EXPECT_EQ(a->gpus, b->gpus);
  EXPECT_EQ(a->holds_resources, b->holds_resources);
}

// What `fields` decodes of `full`'s text, then `trim`med: must be what trimming the whole
// object leaves, or the informers would miss a field the snapshot reads.
json DecodedAndTrimmed(const json& full, const kube::FieldMask& fields, void (*trim)(json&)) {
  auto decoded = kube::ParseMasked(full.dump(), fields);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  if (!decoded.ok()) return json();
  EXPECT_FALSE((*decoded)["metadata"].contains("managedFields"));
  EXPECT_LT(decoded->dump().size(), full.dump().size());
  trim(*decoded);
  return *decoded;
}

TEST(CacheTransform, NodeFieldsHoldEverythingTheTrimKeeps) {
  EXPECT_EQ(DecodedAndTrimmed(FullNode(), *NodeFields(), TrimNode), Trimmed(FullNode(), TrimNode));
}

TEST(CacheTransform, PodFieldsHoldEverythingTheTrimKeeps) {
  EXPECT_EQ(DecodedAndTrimmed(FullPod(), *PodFields(), TrimPod), Trimmed(FullPod(), TrimPod));
}

// The scheduler reads the same topology from a ZenithNode decoded through its mask, less only
// the fields the mask names (GPU UUIDs, PCI addresses, CPU lists, the source).
TEST(CacheTransform, ZenithNodeFieldsKeepWhatPlacementReads) {
  deviceplugin::NodeTopology full;
  full.source = "fixture dgx.yaml";
  full.nvswitch = true;
  for (int i = 0; i < 2; ++i) {
    deviceplugin::Gpu g;
    g.index = i;
    g.uuid = "GPU-" + std::to_string(i);
    g.name = "NVIDIA H100 80GB HBM3";
    g.memory_bytes = 85520809984;
    g.pci_bus_id = "0000:1" + std::to_string(i) + ":00.0";
    g.numa_node = i;
    g.cpus = {2 * i, 2 * i + 1};
    g.mig = deviceplugin::MigMode::kDisabled;
    g.healthy = i == 0;
    full.gpus.push_back(g);
    full.numa_nodes.push_back({i, {2 * i, 2 * i + 1}});
    full.nics.push_back(
        {"mlx5_" + std::to_string(i), "0000:2" + std::to_string(i) + ":00.0", i, true});
  }
  full.nvlink = {{0, 18}, {18, 0}};
  const json zn = {
      {"apiVersion", "zenith.ai/v1alpha1"},
      {"kind", "ZenithNode"},
      {"metadata", {{"name", "n1"}, {"managedFields", json::array({{{"m", 1}}})}}},
      {"spec", {{"nodeName", "n1"}}},
      {"status", {{"product", "H100"}, {"topology", deviceplugin::TopologyToJson(full)}}}};
  auto decoded = kube::ParseMasked(zn.dump(), *ZenithNodeFields());
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_FALSE((*decoded)["metadata"].contains("managedFields"));
  EXPECT_EQ((*decoded)["status"]["product"], "H100");
  auto got = scheduler::TopologyFromZenithNode(*decoded);
  ASSERT_TRUE(got.ok()) << got.status();
  deviceplugin::NodeTopology want = full;
  want.source.clear();
  for (auto& g : want.gpus) {
    g.uuid.clear();
    g.pci_bus_id.clear();
    g.cpus.clear();
  }
  for (auto& n : want.numa_nodes) n.cpus.clear();
  for (auto& n : want.nics) n.pci_bus_id.clear();
  EXPECT_EQ(*got, want);
}

TEST(CacheTransform, MalformedFieldsStayForTheParserToReport) {
  json pod = FullPod();
  pod["spec"]["containers"] = "not a list";
  for (json trimmed : {Trimmed(pod, TrimPod), DecodedAndTrimmed(pod, *PodFields(), TrimPod)}) {
    auto u = scheduler::PodUsageFromJson(trimmed);
    ASSERT_FALSE(u.ok());
    EXPECT_NE(u.status().message().find("spec.containers"), std::string::npos) << u.status();
  }
}

}  // namespace
}  // namespace zenith::operator_::gang
