#include "zenith/deviceplugin/topology.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

NodeTopology Load(const std::string& name) { return fixtures::LoadTopology(name); }

TEST(TopologyJsonTest, RoundTripsEveryFixture) {
  for (const char* name :
       {"dgx-h100.yaml", "dgx1-v100.yaml", "pcie-4gpu-2numa.yaml", "single-h100.yaml"}) {
    NodeTopology t = Load(name);
    ASSERT_FALSE(t.gpus.empty()) << name;
    nlohmann::json j = TopologyToJson(t);
    // Through text too, as a published object would travel.
    auto back = TopologyFromJson(nlohmann::json::parse(j.dump()));
    ASSERT_TRUE(back.ok()) << name << ": " << back.status();
    EXPECT_EQ(*back, t) << name;
    // The nlohmann ADL hooks give the same result.
    EXPECT_EQ(j.get<NodeTopology>(), t) << name;
  }
}

TEST(TopologyJsonTest, ShapeIsStable) {
  nlohmann::json j = TopologyToJson(Load("dgx-h100.yaml"));
  EXPECT_EQ(j["gpus"][0]["cpus"], "0-55,112-167");
  EXPECT_EQ(j["gpus"][0]["pci_bus_id"], "0000:18:00.0");
  EXPECT_EQ(j["gpus"][7]["numa_node"], 1);
  EXPECT_EQ(j["gpus"][0]["mig"], "disabled");
  EXPECT_EQ(j["nvlink"][0][1], 18);
  EXPECT_EQ(j["nvswitch"], true);
  EXPECT_EQ(j["nics"][0]["rdma"], true);
}

TEST(TopologyJsonTest, ErrorsNameTheField) {
  nlohmann::json j = TopologyToJson(Load("pcie-4gpu-2numa.yaml"));
  j["gpus"][1]["memory_bytes"] = "lots";
  auto r = TopologyFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("gpus[1].memory_bytes"), std::string::npos) << r.status();

  j = TopologyToJson(Load("pcie-4gpu-2numa.yaml"));
  j["gpus"][2].erase("index");
  r = TopologyFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("gpus[2].index: missing"), std::string::npos) << r.status();

  j = TopologyToJson(Load("pcie-4gpu-2numa.yaml"));
  j["nvlink"][0][1] = 3;
  r = TopologyFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("symmetric"), std::string::npos) << r.status();

  EXPECT_FALSE(TopologyFromJson(nlohmann::json::array()).ok());
  EXPECT_THROW(nlohmann::json::object().get<NodeTopology>(), std::exception);
}

TEST(TopologyTest, ValidateCatchesBrokenInvariants) {
  NodeTopology t = Load("dgx1-v100.yaml");
  ASSERT_TRUE(ValidateTopology(t).ok());
  NodeTopology bad = t;
  bad.nvlink[2][2] = 1;
  EXPECT_NE(ValidateTopology(bad).message().find("[2][2]"), std::string::npos);
  bad = t;
  bad.gpus[3].index = 1;
  EXPECT_NE(ValidateTopology(bad).message().find("GPU 1"), std::string::npos);
  bad = t;
  bad.gpus[5].numa_node = 7;
  EXPECT_NE(ValidateTopology(bad).message().find("NUMA node 7"), std::string::npos);
  bad = t;
  bad.nvlink.pop_back();
  EXPECT_FALSE(ValidateTopology(bad).ok());
  bad = t;
  bad.gpus[4].uuid = bad.gpus[0].uuid;
  EXPECT_NE(ValidateTopology(bad).message().find("used twice"), std::string::npos);
}

}  // namespace
}  // namespace zenith::deviceplugin
