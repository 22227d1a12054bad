#include "server/common/logger.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::common {
namespace {

using ::testing::ElementsAre;

class LoggerTest : public ::testing::Test {
 protected:
  LoggerTest() {
    auto sink = std::make_unique<MemoryLogSink>();
    sink_ = sink.get();
    logger_.SetSink(std::move(sink));
    logger_.SetTimestamps(false);
  }

  Logger logger_;
  MemoryLogSink* sink_;  // owned by logger_
};

TEST_F(LoggerTest, WritesLevelComponentEventAndFields) {
  logger_.Log(LogLevel::kInfo, "runner", "worker started", {{"pid", 42}, {"impl", "dummy"}});
  EXPECT_THAT(sink_->lines(), ElementsAre("INFO runner: worker started pid=42 impl=dummy"));
}

TEST_F(LoggerTest, QuotesValuesWithSpacesAndEscapesNewlines) {
  logger_.Log(LogLevel::kWarning, "c", "two\nlines", {{"error", "a b"}, {"empty", ""}});
  EXPECT_THAT(sink_->lines(), ElementsAre(R"(WARNING c: two\nlines error="a b" empty="")"));
}

TEST_F(LoggerTest, DebugIsOffByDefault) {
  logger_.Log(LogLevel::kDebug, "c", "hidden");
  EXPECT_TRUE(sink_->lines().empty());
  logger_.SetMinLevel(LogLevel::kDebug);
  logger_.Log(LogLevel::kDebug, "c", "shown");
  EXPECT_THAT(sink_->lines(), ElementsAre("DEBUG c: shown"));
}

TEST_F(LoggerTest, RedactsRegisteredSecretsEverywhereInTheLine) {
  logger_.AddSecret("s3cr3t-token-value");
  logger_.Log(LogLevel::kError, "c", "leak s3cr3t-token-value", {{"k", "xs3cr3t-token-valuex"}});
  logger_.LogRelayed(LogLevel::kInfo, "worker", "also s3cr3t-token-value here");
  EXPECT_THAT(sink_->lines(), ElementsAre("ERROR c: leak [redacted] k=x[redacted]x",
                                          "INFO worker: also [redacted] here"));
}

TEST_F(LoggerTest, IgnoresSecretsTooShortToBeSafeToRedact) {
  logger_.AddSecret("at");
  logger_.Log(LogLevel::kInfo, "c", "attention");
  EXPECT_THAT(sink_->lines(), ElementsAre("INFO c: attention"));
}

TEST_F(LoggerTest, RelayedTextIsCutAtTheCap) {
  std::string huge(Logger::kMaxRelayedText + 10, 'x');
  logger_.LogRelayed(LogLevel::kInfo, "worker", huge);
  std::vector<std::string> lines = sink_->lines();
  ASSERT_EQ(lines.size(), 1u);
  const std::string& line = lines[0];
  EXPECT_LT(line.size(), Logger::kMaxRelayedText + 100);
  EXPECT_NE(line.find("[truncated 10 bytes]"), std::string::npos);
}

TEST_F(LoggerTest, TimestampPrefixHasUpstreamShape) {
  logger_.SetTimestamps(true);
  logger_.Log(LogLevel::kInfo, "c", "e");
  ASSERT_EQ(sink_->lines().size(), 1u);
  EXPECT_THAT(
      sink_->lines()[0],
      ::testing::MatchesRegex("[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} INFO c: e"));
}

}  // namespace
}  // namespace runner::common
