#include "zenith/deviceplugin/options.h"

#include <gtest/gtest.h>

namespace zenith::deviceplugin {
namespace {

common::Config Load(std::vector<std::string> args) {
  common::ConfigSources s;
  s.args = std::move(args);
  s.getenv = [](const std::string&) { return std::optional<std::string>(); };
  return common::Config::Load(s).value();
}

TEST(DevicePluginOptionsTest, FixtureBackendNeedsAFixture) {
  auto o = LoadOptions(Load({"--backend=fixture"}));
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("'fixture'"), std::string::npos);
  auto ok = LoadOptions(Load(
      {"--backend=fixture", "--fixture=examples/topologies/dgx-h100.yaml", "--node-name=gpu-0"}));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->node_name, "gpu-0");
  EXPECT_EQ(ok->resource_name, "zenith.ai/gpu");
}

TEST(DevicePluginOptionsTest, ResourceNameMustBeExtended) {
  auto o = LoadOptions(Load({"--resource-name=gpu"}));
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("zenith.ai/gpu"), std::string::npos);
}

TEST(DevicePluginOptionsTest, KubeletSideDefaults) {
  auto o = LoadOptions(Load({}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->socket_name, "zenith-gpu.sock");
  EXPECT_EQ(o->rdma_resource_name, "zenith.ai/rdma");
  EXPECT_FALSE(o->cdi);
  EXPECT_EQ(o->watch_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(o->ignored_xids, (std::vector<int>{13, 31, 43, 45, 68, 109}));
  EXPECT_TRUE(o->health_file.empty());
}

TEST(DevicePluginOptionsTest, KubeletSideKeys) {
  auto o = LoadOptions(
      Load({"--socket-name=a.sock", "--rdma-resource-name=", "--cdi=true",
            "--cdi-kind=example.com/gpu", "--watch-interval=50ms", "--ignored-xids=13,94",
            "--health-recovery=5s", "--health-file=/run/health", "--pre-start-required=true"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->socket_name, "a.sock");
  EXPECT_TRUE(o->rdma_resource_name.empty());
  EXPECT_TRUE(o->cdi);
  EXPECT_EQ(o->cdi_kind, "example.com/gpu");
  EXPECT_EQ(o->watch_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(o->ignored_xids, (std::vector<int>{13, 94}));
  EXPECT_EQ(o->health_recovery, std::chrono::seconds(5));
  EXPECT_EQ(o->health_file, "/run/health");
  EXPECT_TRUE(o->pre_start_required);
}

TEST(DevicePluginOptionsTest, BadKubeletSideValuesNameTheKey) {
  for (const auto& [flag, key] : std::vector<std::pair<std::string, std::string>>{
           {"--socket-name=kubelet.sock", "'socket-name'"},
           {"--socket-name=dir/x.sock", "'socket-name'"},
           {"--rdma-socket-name=zenith-gpu.sock", "'rdma-socket-name'"},
           {"--rdma-resource-name=rdma", "'rdma-resource-name'"},
           {"--ignored-xids=13,x", "'ignored-xids'"},
           {"--watch-interval=1ms", "'watch-interval'"}}) {
    auto o = LoadOptions(Load({flag}));
    ASSERT_FALSE(o.ok()) << flag;
    EXPECT_NE(o.status().message().find(key), std::string::npos) << o.status();
  }
  auto cdi = LoadOptions(Load({"--cdi=true", "--cdi-kind=gpu"}));
  EXPECT_FALSE(cdi.ok());
}

}  // namespace
}  // namespace zenith::deviceplugin
