// The ZenithNode object and node labels built from the example machines (no API server).
#include "zenith/deviceplugin/node_publisher.h"

#include <gtest/gtest.h>

#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

using fixtures::LoadTopology;

TEST(NodeLabels, DgxH100) {
  auto labels = NodeLabels(LoadTopology("dgx-h100.yaml"));
  EXPECT_EQ(labels["zenith.ai/gpu.count"], "8");
  EXPECT_EQ(labels["zenith.ai/gpu.product"], "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(labels["zenith.ai/gpu.memory"], "81559");
  EXPECT_EQ(labels["zenith.ai/gpu.nvlink"], "true");
  EXPECT_EQ(labels["zenith.ai/gpu.nvswitch"], "true");
}

TEST(NodeLabels, PcieBoxHasNoNvlink) {
  auto labels = NodeLabels(LoadTopology("pcie-4gpu-2numa.yaml"));
  EXPECT_EQ(labels["zenith.ai/gpu.count"], "4");
  EXPECT_EQ(labels["zenith.ai/gpu.nvlink"], "false");
  EXPECT_EQ(labels["zenith.ai/gpu.nvswitch"], "false");
}

TEST(NodeLabels, NoGpus) {
  auto labels = NodeLabels(NodeTopology{});
  EXPECT_EQ(labels["zenith.ai/gpu.count"], "0");
  EXPECT_EQ(labels.count("zenith.ai/gpu.product"), 0u);
  EXPECT_EQ(labels.count("zenith.ai/gpu.memory"), 0u);
}

TEST(NodeLabels, MixedProducts) {
  NodeTopology t = LoadTopology("pcie-4gpu-2numa.yaml");
  t.gpus[1].name = "Another GPU";
  EXPECT_EQ(NodeLabels(t)["zenith.ai/gpu.product"], "mixed");
}

TEST(LabelValue, MakesValidValues) {
  EXPECT_EQ(LabelValue("NVIDIA H100 80GB HBM3"), "NVIDIA-H100-80GB-HBM3");
  EXPECT_EQ(LabelValue("  (A100)  "), "A100");
  EXPECT_EQ(LabelValue("---"), "");
  EXPECT_EQ(LabelValue(std::string(100, 'x')).size(), 63u);
  EXPECT_EQ(LabelValue(std::string(62, 'x') + "-y"), std::string(62, 'x'));
}

TEST(ZenithNodeObject, CarriesTopologyAndHealth) {
  NodeTopology t = LoadTopology("dgx1-v100.yaml");
  t.gpus[2].healthy = false;
  auto obj = ZenithNodeObject("gpu-7", "uid-7", "zenith.ai/gpu", t);
  EXPECT_EQ(obj["metadata"]["name"], "gpu-7");
  EXPECT_EQ(obj["metadata"]["ownerReferences"][0]["kind"], "Node");
  EXPECT_EQ(obj["metadata"]["ownerReferences"][0]["uid"], "uid-7");
  EXPECT_EQ(obj["spec"]["nodeName"], "gpu-7");
  EXPECT_EQ(obj["status"]["gpuCount"], 8);
  EXPECT_EQ(obj["status"]["healthyGpus"], 7);
  EXPECT_EQ(obj["status"]["nvlink"], true);
  EXPECT_EQ(obj["status"]["nvswitch"], false);
  EXPECT_EQ(obj["status"]["rdmaNics"], 4);
  auto back = TopologyFromJson(obj["status"]["topology"]);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, t);
}

}  // namespace
}  // namespace zenith::deviceplugin
