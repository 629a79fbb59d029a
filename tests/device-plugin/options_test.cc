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

}  // namespace
}  // namespace zenith::deviceplugin
