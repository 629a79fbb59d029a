#include "zenith/operator/scheduler/kube_convert.h"

#include <gtest/gtest.h>

#include "device-plugin/example_topologies.h"

namespace zenith::operator_::scheduler {
namespace {

using nlohmann::json;

bool Mentions(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(KubeConvertTest, Node) {
  json node = json::parse(R"({
    "metadata": {"name": "gpu-1", "labels": {"rack": "r7"}},
    "spec": {"taints": [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]},
    "status": {"allocatable": {"zenith.ai/gpu": "8", "cpu": "223500m", "memory": "2Ti",
                               "pods": "110", "ephemeral-storage": "1Ti"},
               "conditions": [{"type": "Ready", "status": "True"}]}})");
  auto n = NodeFromJson(node);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->name, "gpu-1");
  EXPECT_EQ(n->labels.at("rack"), "r7");
  ASSERT_EQ(n->taints.size(), 1u);
  EXPECT_EQ(n->taints[0].effect, "NoSchedule");
  EXPECT_EQ(n->allocatable, (Resources{8, 223500, int64_t{2} << 40, 110}));
  EXPECT_FALSE(n->unschedulable);

  node["status"]["conditions"][0]["status"] = "Unknown";
  EXPECT_TRUE(NodeFromJson(node)->unschedulable);
  node["status"]["allocatable"]["cpu"] = "lots";
  auto bad = NodeFromJson(node);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Mentions(bad.status(), "node gpu-1")) << bad.status();
  EXPECT_TRUE(Mentions(bad.status(), "status.allocatable.cpu")) << bad.status();
}

TEST(KubeConvertTest, ZenithNodeTopologyRoundTrips) {
  deviceplugin::NodeTopology t = deviceplugin::fixtures::LoadTopology("dgx1-v100.yaml");
  json zn = {{"metadata", {{"name", "dgx-3"}}},
             {"status", {{"topology", deviceplugin::TopologyToJson(t)}}}};
  auto parsed = TopologyFromZenithNode(zn);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->gpus.size(), 8u);
  EXPECT_EQ(parsed->nvlink, t.nvlink);

  zn["status"]["topology"]["gpus"][0]["index"] = "zero";
  auto bad = TopologyFromZenithNode(zn);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Mentions(bad.status(), "zenithnode dgx-3")) << bad.status();
  EXPECT_TRUE(Mentions(bad.status(), "status.topology")) << bad.status();
  EXPECT_EQ(TopologyFromZenithNode(json{{"metadata", {{"name", "x"}}}}).status().code(),
            StatusCode::kNotFound);
}

TEST(KubeConvertTest, PodRequestsCountSidecarsAndInitPeak) {
  json pod = json::parse(R"({
    "metadata": {"namespace": "ml", "name": "job-0",
                 "annotations": {"zenith.ai/gpu-indices": "3,1,2,0"}},
    "spec": {"nodeName": "gpu-1",
             "initContainers": [
               {"name": "sidecar", "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}},
               {"name": "warmup", "resources": {"requests": {"cpu": "20", "memory": "1Gi"}}}],
             "containers": [
               {"name": "trainer",
                "resources": {"requests": {"cpu": "8", "memory": "64Gi"},
                              "limits": {"cpu": "16", "zenith.ai/gpu": 4}}}]},
    "status": {"phase": "Running"}})");
  auto u = PodUsageFromJson(pod);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->key, "ml/job-0");
  EXPECT_EQ(u->node, "gpu-1");
  // CPU peaks in the init phase (20 + sidecar 1); memory in the main phase (64 + 1); the GPUs
  // are given as a limit only, which is the request.
  EXPECT_EQ(u->requests, (Resources{4, 21000, int64_t{65} << 30, 1}));
  EXPECT_EQ(u->gpus, (std::vector<int>{0, 1, 2, 3}));

  Node n;
  n.name = "gpu-1";
  AccountPod(n, *u);
  EXPECT_EQ(n.requested.gpus, 4);
  EXPECT_EQ(n.taken_gpus, (std::vector<int>{0, 1, 2, 3}));
  pod["status"]["phase"] = "Succeeded";
  Node m;
  AccountPod(m, *PodUsageFromJson(pod));
  EXPECT_EQ(m.requested, Resources{});

  pod["metadata"]["annotations"]["zenith.ai/gpu-indices"] = "0,x";
  auto bad = PodUsageFromJson(pod);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Mentions(bad.status(), "pod ml/job-0")) << bad.status();
  EXPECT_TRUE(Mentions(bad.status(), "zenith.ai/gpu-indices")) << bad.status();
}

TEST(KubeConvertTest, ZenithJobToRequest) {
  json zj = json::parse(R"({
    "apiVersion": "zenith.ai/v1alpha1", "kind": "ZenithJob",
    "metadata": {"namespace": "team-a", "name": "llm", "creationTimestamp": "2026-11-27T06:30:00Z"},
    "spec": {
      "replicas": 4, "gpusPerReplica": 8,
      "template": {"spec": {
        "nodeSelector": {"pool": "train"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
          "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "rack", "operator": "NotIn", "values": ["r9"]}]}]}}},
        "containers": [{"name": "t", "image": "i",
                        "resources": {"requests": {"cpu": "16", "memory": "128Gi"}}}]}},
      "topology": {"nvlink": "Required", "placement": "Spread", "sameNodeLabel": "rack",
                   "excludedNodes": ["bad-1"], "minGpuMemory": "80Gi", "rdma": true,
                   "gpuModel": "NVIDIA-H100-80GB-HBM3"},
      "scheduling": {"queue": "team-a", "priority": 10, "preemptible": true,
                     "maxWaitSeconds": 600}}})");
  auto j = JobRequestFromZenithJob(zj);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ(j->key, "team-a/llm");
  EXPECT_EQ(j->pods, 4);
  EXPECT_EQ(j->per_pod, (Resources{8, 16000, int64_t{128} << 30, 1}));
  EXPECT_EQ(j->queue, "team-a");
  EXPECT_EQ(j->priority, 10);
  EXPECT_TRUE(j->preemptible);
  EXPECT_EQ(j->max_wait, std::chrono::seconds(600));
  EXPECT_EQ(std::chrono::system_clock::to_time_t(j->created), 1795761000);
  EXPECT_EQ(j->topology.nvlink, NvlinkPolicy::kRequired);
  EXPECT_EQ(j->topology.placement, PlacementPolicy::kSpread);
  EXPECT_EQ(j->topology.same_node_label, "rack");
  EXPECT_EQ(j->topology.min_gpu_memory_bytes, uint64_t{80} << 30);
  EXPECT_TRUE(j->topology.rdma);
  EXPECT_EQ(j->node_selector.at("pool"), "train");
  ASSERT_EQ(j->tolerations.size(), 1u);
  EXPECT_EQ(j->tolerations[0].op, "Exists");
  ASSERT_EQ(j->required_affinity.size(), 1u);
  EXPECT_EQ(j->required_affinity[0][0].op, NodeSelectorRequirement::Op::kNotIn);

  // Defaults: minAvailable = replicas, Preferred NVLink, Pack, default queue.
  json small = {{"metadata", {{"name", "s"}}}, {"spec", {{"replicas", 2}}}};
  auto s = JobRequestFromZenithJob(small);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->pods, 2);
  EXPECT_EQ(s->queue, "default");
  EXPECT_EQ(s->topology.nvlink, NvlinkPolicy::kPreferred);
  EXPECT_EQ(s->topology.placement, PlacementPolicy::kPack);

  zj["spec"]["topology"]["placement"] = "Scatter";
  auto bad = JobRequestFromZenithJob(zj);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Mentions(bad.status(), "zenithjob team-a/llm")) << bad.status();
  EXPECT_TRUE(Mentions(bad.status(), "spec.topology.placement")) << bad.status();
  zj["spec"]["topology"]["placement"] = "Pack";
  zj["spec"]["template"]["spec"]["tolerations"][0]["operator"] = "Maybe";
  bad = JobRequestFromZenithJob(zj);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Mentions(bad.status(), "tolerations[0]")) << bad.status();
}

}  // namespace
}  // namespace zenith::operator_::scheduler
