#include "zenith/runtime/options.h"

#include <gtest/gtest.h>

namespace zenith::runtime {
namespace {

common::Config Load(std::vector<std::string> args) {
  common::ConfigSources s;
  s.args = std::move(args);
  s.getenv = [](const std::string&) { return std::optional<std::string>(); };
  return common::Config::Load(s).value();
}

TEST(RuntimeOptionsTest, DefaultsAndFlags) {
  auto o = LoadOptions(Load({"--source=/data/train", "--format=tfrecord", "--batch-size=256"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->source, "/data/train");
  EXPECT_EQ(o->format, "tfrecord");
  EXPECT_EQ(o->batch_size, 256);
  EXPECT_EQ(o->prefetch, 4);
  EXPECT_EQ(o->shm_dir, "/dev/shm");
}

TEST(RuntimeOptionsTest, BadValuesNameTheKey) {
  auto bad_format = LoadOptions(Load({"--format=parquet"}));
  ASSERT_FALSE(bad_format.ok());
  EXPECT_NE(bad_format.status().message().find("'format'"), std::string::npos);
  auto bad_batch = LoadOptions(Load({"--batch-size=0"}));
  ASSERT_FALSE(bad_batch.ok());
  EXPECT_NE(bad_batch.status().message().find("'batch-size'"), std::string::npos);
}

}  // namespace
}  // namespace zenith::runtime
