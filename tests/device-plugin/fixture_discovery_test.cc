#include "zenith/deviceplugin/fixture_discovery.h"

#include <gtest/gtest.h>

#include <set>

#include "example_topologies.h"

namespace zenith::deviceplugin {
namespace {

std::string Path(const std::string& name) { return fixtures::TopologyPath(name); }

NodeTopology Discover(const std::string& name) {
  Options o;
  o.backend = "fixture";
  o.fixture = Path(name);
  auto d = MakeDiscovery(o);
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return {};
  auto t = (*d)->Discover();
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : NodeTopology();
}

void ExpectSymmetric(const NodeTopology& t) {
  ASSERT_EQ(t.nvlink.size(), t.gpus.size());
  for (size_t a = 0; a < t.gpus.size(); ++a) {
    ASSERT_EQ(t.nvlink[a].size(), t.gpus.size());
    EXPECT_EQ(t.nvlink[a][a], 0);
    for (size_t b = 0; b < t.gpus.size(); ++b) EXPECT_EQ(t.nvlink[a][b], t.nvlink[b][a]);
  }
}

TEST(FixtureDiscoveryTest, DgxH100) {
  NodeTopology t = Discover("dgx-h100.yaml");
  ASSERT_EQ(t.gpus.size(), 8u);
  ExpectSymmetric(t);
  EXPECT_TRUE(t.nvswitch);
  for (size_t a = 0; a < 8; ++a) {
    EXPECT_EQ(t.gpus[a].index, static_cast<int>(a));
    EXPECT_EQ(t.gpus[a].numa_node, a < 4 ? 0 : 1);
    EXPECT_EQ(t.gpus[a].memory_bytes, 81559ull << 20);
    EXPECT_EQ(t.gpus[a].uuid.rfind("GPU-", 0), 0u);
    EXPECT_FALSE(t.gpus[a].cpus.empty());  // defaulted from the NUMA node
    for (size_t b = 0; b < 8; ++b) EXPECT_EQ(t.nvlink[a][b], a == b ? 0 : 18);
  }
  ASSERT_EQ(t.numa_nodes.size(), 2u);
  EXPECT_EQ(t.numa_nodes[1].cpus.size(), 112u);
  ASSERT_EQ(t.nics.size(), 8u);
  for (const Nic& n : t.nics) EXPECT_TRUE(n.rdma);
  EXPECT_EQ(t.source, "fixture " + Path("dgx-h100.yaml"));
}

TEST(FixtureDiscoveryTest, Dgx1V100CubeMesh) {
  NodeTopology t = Discover("dgx1-v100.yaml");
  ASSERT_EQ(t.gpus.size(), 8u);
  ExpectSymmetric(t);
  EXPECT_FALSE(t.nvswitch);
  for (size_t a = 0; a < 8; ++a) {
    int total = 0;
    for (size_t b = 0; b < 8; ++b) total += t.nvlink[a][b];
    EXPECT_EQ(total, 6) << "every V100 uses its six NVLinks, GPU " << a;
    // Each quad is fully connected, and i is linked to i+4.
    for (size_t b = 0; b < 8; ++b) {
      if (a != b && a / 4 == b / 4) {
        EXPECT_GT(t.nvlink[a][b], 0) << a << "," << b;
      }
    }
    EXPECT_GT(t.nvlink[a][(a + 4) % 8], 0);
    EXPECT_EQ(t.gpus[a].numa_node, a < 4 ? 0 : 1);
  }
  EXPECT_EQ(t.nvlink[0][3], 2);
  EXPECT_EQ(t.nvlink[0][1], 1);
  EXPECT_EQ(t.nvlink[0][5], 0);
  EXPECT_EQ(t.nics.size(), 4u);
}

TEST(FixtureDiscoveryTest, PcieTwoNuma) {
  NodeTopology t = Discover("pcie-4gpu-2numa.yaml");
  ASSERT_EQ(t.gpus.size(), 4u);
  ExpectSymmetric(t);
  for (const auto& row : t.nvlink) {
    for (int l : row) EXPECT_EQ(l, 0);
  }
  EXPECT_EQ(t.gpus[0].numa_node, 0);
  EXPECT_EQ(t.gpus[1].numa_node, 0);
  EXPECT_EQ(t.gpus[2].numa_node, 1);
  EXPECT_EQ(t.gpus[3].numa_node, 1);
  EXPECT_EQ(t.numa_nodes.size(), 2u);
  for (const Nic& n : t.nics) EXPECT_FALSE(n.rdma);
}

TEST(FixtureDiscoveryTest, SingleH100) {
  NodeTopology t = Discover("single-h100.yaml");
  ASSERT_EQ(t.gpus.size(), 1u);
  ExpectSymmetric(t);
  EXPECT_EQ(t.gpus[0].name, "NVIDIA H100 PCIe");
  EXPECT_EQ(t.numa_nodes.size(), 1u);
}

TEST(FixtureDiscoveryTest, MissingFileIsNotFoundNamingIt) {
  FixtureDiscovery d("/no/such/machine.yaml");
  auto t = d.Discover();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
  EXPECT_NE(t.status().message().find("/no/such/machine.yaml"), std::string::npos);
}

// Each bad fixture must produce an error naming the file, the line and the field.
struct BadFixture {
  const char* what;
  const char* yaml;
  const char* expect_where;  // "file:line"
  const char* expect_field;
};

const char kGood[] = R"(numa_nodes:
  - {id: 0, cpus: "0-3"}
gpus:
  - index: 0
    uuid: GPU-1
    name: A
    memory_mib: 10
    pci_bus_id: "0000:01:00.0"
    numa_node: 0
  - index: 1
    uuid: GPU-2
    name: A
    memory_mib: 10
    pci_bus_id: "0000:02:00.0"
    numa_node: 0
nvlink:
  - [0, 2]
  - [2, 0]
)";

TEST(FixtureDiscoveryTest, GoodInlineFixtureParses) {
  auto t = ParseFixture(kGood, "good.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->nvlink[0][1], 2);
  EXPECT_EQ(t->gpus[1].cpus, (std::vector<int>{0, 1, 2, 3}));
}

TEST(FixtureDiscoveryTest, BadFixturesNameFileLineAndField) {
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  const std::string good = kGood;
  const std::vector<BadFixture> cases = {
      {"bad memory", nullptr, "bad.yaml:7:", "gpus[0].memory_mib"},
      {"unknown field", nullptr, "bad.yaml:13:", "gpus[1].memroy_mib"},
      {"asymmetric", nullptr, "bad.yaml:18:", "nvlink[1][0]"},
      {"numa ref", nullptr, "bad.yaml:9:", "gpus[0].numa_node"},
      {"bad bus id", nullptr, "bad.yaml:14:", "gpus[1].pci_bus_id"},
      {"self link", nullptr, "bad.yaml:17:", "nvlink[0][0]"},
      {"short row", nullptr, "bad.yaml:18:", "nvlink[1]"},
      {"uuid", nullptr, "bad.yaml:11:", "gpus[1].uuid"},
      {"missing name", nullptr, "bad.yaml:10:", "gpus[1].name"},
      {"yaml syntax", nullptr, "bad.yaml:18:", "not valid YAML"},
      {"index order", nullptr, "bad.yaml:10:", "gpus[1].index"},
  };
  const std::vector<std::string> texts = {
      replace(good, "memory_mib: 10\n    pci_bus_id: \"0000:01",
              "memory_mib: ten\n    pci_bus_id: \"0000:01"),
      replace(good, "memory_mib: 10\n    pci_bus_id: \"0000:02",
              "memroy_mib: 10\n    pci_bus_id: \"0000:02"),
      replace(good, "  - [2, 0]", "  - [1, 0]"),
      replace(good, "numa_node: 0\n  - index: 1", "numa_node: 3\n  - index: 1"),
      replace(good, "0000:02:00.0", "0000:02:00"),  // valid: function defaults to 0
      replace(good, "  - [0, 2]", "  - [1, 2]"),
      replace(good, "  - [2, 0]", "  - [2]"),
      replace(good, "uuid: GPU-2", "uuid: GPU-1"),
      replace(good, "    name: A\n    memory_mib: 10\n    pci_bus_id: \"0000:02",
              "    memory_mib: 10\n    pci_bus_id: \"0000:02"),
      replace(good, "  - [0, 2]", "  - [0, 2"),
      replace(good, "  - index: 1", "  - index: 0"),
  };
  ASSERT_EQ(cases.size(), texts.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    if (std::string(cases[i].what) == "bad bus id") {
      // "0000:02:00" is accepted (function 0); a really bad id is not.
      EXPECT_TRUE(ParseFixture(texts[i], "bad.yaml").ok());
      auto r = ParseFixture(replace(good, "0000:02:00.0", "0000:02:zz.0"), "bad.yaml");
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.status().message().find(cases[i].expect_where), std::string::npos) << r.status();
      EXPECT_NE(r.status().message().find(cases[i].expect_field), std::string::npos) << r.status();
      continue;
    }
    auto r = ParseFixture(texts[i], "bad.yaml");
    ASSERT_FALSE(r.ok()) << cases[i].what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << cases[i].what;
    EXPECT_NE(r.status().message().find(std::string("fixture ") + cases[i].expect_where),
              std::string::npos)
        << cases[i].what << ": " << r.status();
    EXPECT_NE(r.status().message().find(cases[i].expect_field), std::string::npos)
        << cases[i].what << ": " << r.status();
  }
}

TEST(FixtureDiscoveryTest, FactoryRejectsUnknownBackendAndMissingFixture) {
  Options o;
  o.backend = "magic";
  EXPECT_EQ(MakeDiscovery(o).status().code(), StatusCode::kInvalidArgument);
  o.backend = "fixture";
  EXPECT_EQ(MakeDiscovery(o).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace zenith::deviceplugin
