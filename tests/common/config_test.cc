#include "zenith/common/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "zenith/common/program.h"

namespace zenith::common {
namespace {

using namespace std::chrono_literals;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("zenith-config-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  ConfigSources Sources(std::string file, std::vector<std::string> args = {}) {
    ConfigSources s;
    s.file = std::move(file);
    s.args = std::move(args);
    s.getenv = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    return s;
  }

  std::filesystem::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, FileValuesAreReadByDottedKey) {
  auto file = WriteFile("a.yaml",
                        "metrics:\n  port: 9100\nlog:\n  level: debug\n"
                        "timeout: 1m30s\nxids: [13, 48]\nenabled: yes\nratio: 0.5\n");
  auto c = Config::Load(Sources(file));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->Int("metrics.port", 0), 9100);
  EXPECT_EQ(*c->String("log.level", "info"), "debug");
  EXPECT_EQ(*c->Duration("timeout", 0s), 90s);
  EXPECT_EQ(*c->StringList("xids", {}), (std::vector<std::string>{"13", "48"}));
  EXPECT_TRUE(*c->Bool("enabled", false));
  EXPECT_DOUBLE_EQ(*c->Double("ratio", 0), 0.5);
  EXPECT_EQ(*c->Int("absent", 42), 42);
  EXPECT_EQ(c->SourceOf("metrics.port"), "file " + file + ":2:9");
  EXPECT_EQ(c->SourceOf("absent"), "default");
}

TEST_F(ConfigTest, FlagsBeatEnvironmentBeatsFile) {
  auto file = WriteFile("b.yaml", "metrics:\n  port: 1\nname: from-file\nmode: file\n");
  env_["ZENITH_METRICS_PORT"] = "2";
  env_["ZENITH_NAME"] = "from-env";
  auto c = Config::Load(Sources(file, {"--metrics.port=3", "--verbose", "--x", "y", "pos"}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->Int("metrics.port", 0), 3);
  EXPECT_EQ(c->SourceOf("metrics.port"), "flag --metrics.port");
  EXPECT_EQ(*c->String("name", ""), "from-env");
  EXPECT_EQ(c->SourceOf("name"), "environment ZENITH_NAME");
  EXPECT_EQ(*c->String("mode", ""), "file");
  EXPECT_TRUE(*c->Bool("verbose", false));
  EXPECT_EQ(*c->String("x", ""), "y");
  EXPECT_EQ(c->positional(), std::vector<std::string>{"pos"});
}

TEST_F(ConfigTest, ConfigFlagNamesTheFile) {
  auto file = WriteFile("c.yaml", "batch-size: 64\n");
  auto c = Config::Load(Sources("", {"--config", file}));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(*c->Int("batch-size", 1), 64);
  EXPECT_EQ(c->file(), file);
}

TEST_F(ConfigTest, BadValueErrorNamesKeyFileAndLine) {
  auto file = WriteFile("d.yaml", "metrics:\n  port: ninety\n");
  auto c = Config::Load(Sources(file));
  ASSERT_TRUE(c.ok());
  auto port = c->Int("metrics.port", 0);
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(port.status().message(),
            "config key 'metrics.port' (file " + file + ":2:9): expected an integer, got 'ninety'");
}

TEST_F(ConfigTest, RangeEnumAndDurationErrorsNameTheirSource) {
  env_["ZENITH_WORKERS"] = "0";
  auto c = Config::Load(Sources("", {"--log.level=loud", "--wait=5 fortnights"}));
  ASSERT_TRUE(c.ok());
  auto w = c->Int("workers", 4, 1, 256);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("environment ZENITH_WORKERS"), std::string::npos);
  EXPECT_NE(w.status().message().find("out of range [1, 256]"), std::string::npos);
  auto level = c->Enum("log.level", "info", {"debug", "info"});
  ASSERT_FALSE(level.ok());
  EXPECT_NE(level.status().message().find("flag --log.level"), std::string::npos);
  EXPECT_NE(level.status().message().find("'loud'"), std::string::npos);
  EXPECT_FALSE(c->Duration("wait", 0s).ok());
}

TEST_F(ConfigTest, MissingFileAndSyntaxErrorsNameTheFile) {
  auto missing = Config::Load(Sources((dir_ / "nope.yaml").string()));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.yaml"), std::string::npos);

  auto file = WriteFile("e.yaml", "a: [1, 2\nb: 3\n");
  auto broken = Config::Load(Sources(file));
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find(file + ":"), std::string::npos) << broken.status();

  auto list = Config::Load(Sources(WriteFile("f.yaml", "- a\n- b\n")));
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("mapping"), std::string::npos);
}

TEST_F(ConfigTest, UnknownKeysAreRejectedWithTheirSource) {
  auto file = WriteFile("g.yaml", "metrics:\n  port: 1\n  prot: 2\nlabels:\n  team: a\n");
  auto c = Config::Load(Sources(file));
  ASSERT_TRUE(c.ok());
  Status s = c->CheckKnownKeys({"metrics.port", "labels."});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "unknown config key 'metrics.prot' (file " + file + ":3:9)");
  EXPECT_TRUE(c->CheckKnownKeys({"metrics.port", "metrics.prot", "labels."}).ok());

  auto f = Config::Load(Sources("", {"--batchsize=3"}));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->CheckKnownKeys({"batch-size"}).message(),
            "unknown config key 'batchsize' (flag --batchsize)");
}

TEST_F(ConfigTest, RequiredKeyErrorSaysWhereToSetIt) {
  auto c = Config::Load(Sources(""));
  ASSERT_TRUE(c.ok());
  auto s = c->RequiredString("source");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--source"), std::string::npos);
  EXPECT_NE(s.status().message().find("ZENITH_SOURCE"), std::string::npos);
}

TEST_F(ConfigTest, SingleDashFlagsAreRejected) {
  auto c = Config::Load(Sources("", {"-v"}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'-v'"), std::string::npos);
}

TEST_F(ConfigTest, ProgramBasicsSizeTheHttpPool) {
  auto defaults = Config::Load(Sources(""));
  ASSERT_TRUE(defaults.ok());
  auto b = LoadProgramBasics(*defaults, 9090);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->http_io_threads, 4);
  EXPECT_EQ(b->metrics_port, 9090);

  auto set = Config::Load(Sources("", {"--http.io-threads=8"}));
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(LoadProgramBasics(*set, 9090)->http_io_threads, 8);

  // One thread could not close a listener (its close waits for work on another pool thread).
  auto one = Config::Load(Sources("", {"--http.io-threads=1"}));
  ASSERT_TRUE(one.ok());
  auto refused = LoadProgramBasics(*one, 9090);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("http.io-threads"), std::string::npos)
      << refused.status();
}

TEST(DurationTest, Forms) {
  EXPECT_EQ(*ParseDuration("250ms"), 250ms);
  EXPECT_EQ(*ParseDuration("2"), 2s);
  EXPECT_EQ(*ParseDuration("1h2m3s"), 1h + 2min + 3s);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500ms);
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("3 days").ok());
  EXPECT_FALSE(ParseDuration("-1").ok());
}

}  // namespace
}  // namespace zenith::common
