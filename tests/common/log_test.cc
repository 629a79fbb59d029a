#include "zenith/common/log.h"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace zenith::common::log {
namespace {

class CaptureSink : public Sink {
 public:
  void Write(std::string_view line) override { lines.emplace_back(line); }
  std::vector<std::string> lines;
};

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<CaptureSink>();
    Configure({Level::kInfo, Format::kLogfmt, "test", sink_});
  }
  void TearDown() override { Configure({}); }
  std::shared_ptr<CaptureSink> sink_;
};

TEST_F(LogTest, LogfmtLineHasLevelComponentMessageAndFields) {
  Info("pod bound", {{"pod", "job-0"}, {"gpus", 8}, {"ready", true}});
  ASSERT_EQ(sink_->lines.size(), 1u);
  const std::string& line = sink_->lines[0];
  EXPECT_EQ(line.rfind("ts=", 0), 0u) << line;
  EXPECT_NE(line.find(" level=info component=test msg=\"pod bound\" pod=job-0 gpus=8 ready=true"),
            std::string::npos)
      << line;
}

TEST_F(LogTest, LevelFiltersLowerLevels) {
  Debug("hidden");
  Warn("shown");
  ASSERT_EQ(sink_->lines.size(), 1u);
  EXPECT_NE(sink_->lines[0].find("level=warn"), std::string::npos);
  Configure({Level::kError, Format::kLogfmt, "", sink_});
  Warn("hidden too");
  EXPECT_EQ(sink_->lines.size(), 1u);
}

TEST_F(LogTest, LogfmtQuotesAndEscapesAwkwardValues) {
  std::string line = FormatLine(Format::kLogfmt, "T", Level::kError, "", "m",
                                {{"path", "/a b"}, {"q", "say \"hi\"\nbye"}, {"empty", ""}});
  EXPECT_EQ(line, "ts=T level=error msg=m path=\"/a b\" q=\"say \\\"hi\\\"\\nbye\" empty=\"\"");
}

TEST_F(LogTest, JsonLineParsesBackWithTypedFields) {
  std::string line =
      FormatLine(Format::kJson, "T", Level::kWarn, "op", "retry",
                 {{"attempt", 3}, {"error", Status(StatusCode::kUnavailable, "x")}, {"ok", false}});
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["component"], "op");
  EXPECT_EQ(j["msg"], "retry");
  EXPECT_EQ(j["attempt"], 3);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error"], "UNAVAILABLE: x");
}

TEST(LogParseTest, LevelsAndFormats) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_FALSE(ParseLevel("loud").ok());
  EXPECT_NE(ParseLevel("loud").status().message().find("'loud'"), std::string::npos);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_FALSE(ParseFormat("xml").ok());
}

}  // namespace
}  // namespace zenith::common::log
