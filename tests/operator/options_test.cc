#include "zenith/operator/options.h"

#include <gtest/gtest.h>

namespace zenith::operator_ {
namespace {

using namespace std::chrono_literals;

common::Config Load(std::vector<std::string> args) {
  common::ConfigSources s;
  s.args = std::move(args);
  s.getenv = [](const std::string&) { return std::optional<std::string>(); };
  return common::Config::Load(s).value();
}

TEST(OperatorOptionsTest, DefaultsAndOverrides) {
  auto d = LoadOptions(Load({}));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->scheduler_name, "zenith");
  EXPECT_TRUE(d->leader_election);
  EXPECT_EQ(d->lease_duration, 15s);
  auto o = LoadOptions(Load(
      {"--leader-election.enabled=false", "--workers=8", "--leader-election.lease-duration=30s"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->leader_election);
  EXPECT_EQ(o->workers, 8);
  EXPECT_EQ(o->lease_duration, 30s);
}

TEST(OperatorOptionsTest, InvalidValuesAreRejected) {
  EXPECT_FALSE(LoadOptions(Load({"--workers=0"})).ok());
  EXPECT_FALSE(LoadOptions(Load({"--scheduler-name="})).ok());
}

}  // namespace
}  // namespace zenith::operator_
