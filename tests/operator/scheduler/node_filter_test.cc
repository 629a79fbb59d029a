#include "zenith/operator/scheduler/node_filter.h"

#include <gtest/gtest.h>

#include "device-plugin/example_topologies.h"

namespace zenith::operator_::scheduler {
namespace {

using Op = NodeSelectorRequirement::Op;

Node GpuNode(const std::string& name) {
  Node n;
  n.name = name;
  n.allocatable = {8, 64000, int64_t{512} << 30, 110};
  n.labels = {{"rack", "r1"}, {"pool", "train"}, {"size", "8"}};
  return n;
}

JobRequest Job(int gpus) {
  JobRequest j;
  j.key = "ns/j";
  j.per_pod = {gpus, 1000, int64_t{1} << 30, 1};
  return j;
}

TEST(NodeFilterTest, SelectorAndAffinity) {
  Node n = GpuNode("a");
  JobRequest j = Job(1);
  EXPECT_EQ(CheckNode(n, j), FilterReason::kFits);
  j.node_selector = {{"pool", "infer"}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kNodeSelector);
  j.node_selector = {{"pool", "train"}};
  j.required_affinity = {{{"rack", Op::kIn, {"r2", "r3"}}}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kAffinity);
  // Terms are ORed; expressions within a term ANDed.
  j.required_affinity.push_back({{"rack", Op::kNotIn, {"r2"}}, {"pool", Op::kExists, {}}});
  EXPECT_EQ(CheckNode(n, j), FilterReason::kFits);
  j.required_affinity = {{{"gpu-broken", Op::kDoesNotExist, {}}, {"size", Op::kGt, {"4"}}}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kFits);
  j.required_affinity = {{{"size", Op::kLt, {"4"}}}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kAffinity);
}

TEST(NodeFilterTest, TaintsAndTolerations) {
  Node n = GpuNode("a");
  n.taints = {{"nvidia.com/gpu", "present", "NoSchedule"}, {"soft", "", "PreferNoSchedule"}};
  JobRequest j = Job(1);
  EXPECT_EQ(CheckNode(n, j), FilterReason::kTaint);
  j.tolerations = {{"nvidia.com/gpu", "Equal", "absent", ""}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kTaint);
  j.tolerations = {{"nvidia.com/gpu", "Exists", "", "NoSchedule"}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kFits);
  j.tolerations = {{"nvidia.com/gpu", "Exists", "", "NoExecute"}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kTaint);
  j.tolerations = {{"", "Exists", "", ""}};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kFits);
}

TEST(NodeFilterTest, GpuModelMemoryAndRdmaFromTopology) {
  Node n = GpuNode("dgx");
  n.topology = deviceplugin::fixtures::LoadTopology("dgx1-v100.yaml");
  JobRequest j = Job(4);
  j.topology.gpu_model = "Tesla-V100-SXM2-16GB";
  EXPECT_EQ(CheckNode(n, j), FilterReason::kFits);
  j.topology.gpu_model = "NVIDIA-H100-80GB-HBM3";
  EXPECT_EQ(CheckNode(n, j), FilterReason::kGpuModel);
  j.topology.gpu_model.clear();
  j.topology.min_gpu_memory_bytes = uint64_t{80} << 30;
  EXPECT_EQ(CheckNode(n, j), FilterReason::kGpuMemory);
  j.topology.min_gpu_memory_bytes = uint64_t{15} << 30;
  j.topology.rdma = true;
  EXPECT_EQ(CheckNode(n, j), FilterReason::kFits);
  Node pcie = GpuNode("pcie");
  pcie.topology = deviceplugin::fixtures::LoadTopology("pcie-4gpu-2numa.yaml");
  EXPECT_EQ(CheckNode(pcie, j), FilterReason::kRdma);
  // Without a topology the labels speak for the node.
  Node bare = GpuNode("bare");
  bare.labels[kRdmaLabel] = "true";
  bare.labels[kGpuMemoryLabel] = "16Gi";
  EXPECT_EQ(CheckNode(bare, j), FilterReason::kFits);
}

TEST(NodeFilterTest, CordonExclusionAndSize) {
  Node n = GpuNode("a");
  JobRequest j = Job(1);
  j.topology.excluded_nodes = {"a"};
  EXPECT_EQ(CheckNode(n, j), FilterReason::kExcluded);
  j.topology.excluded_nodes.clear();
  n.unschedulable = true;
  EXPECT_EQ(CheckNode(n, j), FilterReason::kUnschedulable);
  n.unschedulable = false;
  EXPECT_EQ(CheckNode(n, Job(16)), FilterReason::kTooSmall);
}

TEST(NodeFilterTest, FilterKeyDistinguishesWhatCheckNodeReads) {
  JobRequest a = Job(2), b = Job(2);
  b.key = "other/job";
  b.priority = 7;
  b.pods = 9;
  EXPECT_EQ(FilterKey(a), FilterKey(b));  // same node answers, one filter pass
  b.node_selector = {{"pool", "train"}};
  EXPECT_NE(FilterKey(a), FilterKey(b));
  b = a;
  b.topology.excluded_nodes = {"x"};
  EXPECT_NE(FilterKey(a), FilterKey(b));
  b = a;
  b.tolerations = {{"k", "Exists", "", ""}};
  EXPECT_NE(FilterKey(a), FilterKey(b));
}

}  // namespace
}  // namespace zenith::operator_::scheduler
