#include "clients/runnerctl/events_format.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"

#include "clients/runnerctl/status_format.h"

namespace runner::runnerctl {
namespace {

namespace v1 = workerrunner::v1;
using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Timestamp At(absl::Time time) {
  return google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

TEST(PrintableTest, EscapesTerminalControlsAndKeepsOrdinaryText) {
  EXPECT_EQ(Printable("desk-7 ünïcode"), "desk-7 ünïcode");
  EXPECT_EQ(Printable("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(Printable("line\nnext\r\x7f"), "line\\x0anext\\x0d\\x7f");
  EXPECT_EQ(Printable("csi\xc2\x9b"
                      "31m"),
            "csi\\u009b31m");
  EXPECT_EQ(Printable("back\\slash"), "back\\\\slash");
}

TEST(EventKindNameTest, RoundTripsEveryNameButCurrentState) {
  for (const char* name :
       {"runner-state", "worker-state", "interruption", "advisory", "credentials", "error-report",
        "shutdown-request", "drain", "runner-stopping"}) {
    SCOPED_TRACE(name);
    auto kind = EventKindFromName(name);
    ASSERT_TRUE(kind.has_value());
    EXPECT_EQ(EventKindName(*kind), name);
  }
  EXPECT_FALSE(EventKindFromName("current-state").has_value());
  EXPECT_FALSE(EventKindFromName("Drain").has_value());
}

TEST(FormatEventTextTest, OneAlignedLineWithLocalAndRelativeTime) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  v1::Event event;
  event.set_sequence(12);
  *event.mutable_time() = At(now - absl::Seconds(75));
  event.set_kind(v1::EVENT_KIND_INTERRUPTION);
  event.mutable_interruption()->set_source("aws");
  event.mutable_interruption()->set_kind("spot-termination");
  *event.mutable_interruption()->mutable_deadline() = At(now + absl::Seconds(45));
  EXPECT_EQ(FormatEventText(event, now, absl::UTCTimeZone()),
            "#12   2027-01-15 07:58:45 UTC (1m15s ago)  interruption     spot-termination from "
            "aws, deadline 2027-01-15 08:00:45 UTC (in 45s)\n");

  v1::Event report;
  report.set_sequence(3);
  *report.mutable_time() = At(now);
  report.set_kind(v1::EVENT_KIND_ERROR_REPORT);
  report.mutable_error_report()->set_kind("worker-error");
  report.mutable_error_report()->set_title("bad\x1b]0;pwned\x07title");
  std::string line = FormatEventText(report, now, absl::UTCTimeZone());
  EXPECT_THAT(line, Not(HasSubstr("\x1b")));
  EXPECT_THAT(line, HasSubstr("worker-error: bad\\x1b]0;pwned\\x07title"));
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

TEST(FormatConfigTextTest, SortedKeysWholeNumbersAndTheRedactedList) {
  v1::WorkerConfig config;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"z": 1, "accessToken": "[redacted]", "idleTimeoutSecs": 900,
                      "ratio": 0.5, "nested": {"b": [true, null], "a": "x\u001by"}, "e": {}})",
                  config.mutable_config())
                  .ok());
  config.add_redacted("/accessToken");
  EXPECT_EQ(FormatConfigText(config),
            "{\n"
            "  \"accessToken\": \"[redacted]\",\n"
            "  \"e\": {},\n"
            "  \"idleTimeoutSecs\": 900,\n"
            "  \"nested\": {\n"
            "    \"a\": \"x\\u001by\",\n"
            "    \"b\": [\n"
            "      true,\n"
            "      null\n"
            "    ]\n"
            "  },\n"
            "  \"ratio\": 0.5,\n"
            "  \"z\": 1\n"
            "}\n"
            "redacted: /accessToken\n");
}

TEST(FormatDrainTextTest, SaysWhatHappened) {
  v1::DrainResponse response;
  response.set_outcome(v1::DRAIN_OUTCOME_NOT_CAPABLE);
  response.set_message("the worker cannot be told");
  EXPECT_EQ(FormatDrainText(response), "drain: worker cannot be told: the worker cannot be told\n");
}

}  // namespace
}  // namespace runner::runnerctl
