#include "clients/runnerctl/status_format.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace runner::runnerctl {
namespace {

using ::testing::HasSubstr;

workerrunner::v1::RunnerStatus Sample(absl::Time now) {
  workerrunner::v1::RunnerStatus status;
  status.set_state(workerrunner::v1::RUN_STATE_RUNNING);
  status.set_version("1.2.3");
  *status.mutable_started_at() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(now - absl::Minutes(3) - absl::Seconds(12)));
  status.set_provider_type("standalone");
  status.set_worker_pool_id("proj/linux");
  status.set_worker_group("office");
  status.set_worker_id("desk-7");
  (*status.mutable_worker_location())["cloud"] = "standalone";
  (*status.mutable_worker_location())["rack"] = "r12";
  status.set_worker_implementation("generic-worker");
  status.set_worker_pid(4242);
  status.set_protocol_negotiated(true);
  status.add_capabilities("graceful-termination");
  status.add_capabilities("log");
  return status;
}

TEST(ShortDurationTest, PicksTheTwoLargestUnits) {
  EXPECT_EQ(ShortDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(ShortDuration(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(ShortDuration(absl::Minutes(125)), "2h5m");
  EXPECT_EQ(ShortDuration(absl::Hours(50)), "2d2h");
}

TEST(FormatStatusTextTest, AlignsFieldsAndShowsRelativeTimes) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  std::string text = FormatStatusText(Sample(now), now, absl::UTCTimeZone());
  EXPECT_THAT(text, HasSubstr("state:           running\n"));
  EXPECT_THAT(text, HasSubstr("(3m12s ago)"));
  EXPECT_THAT(text, HasSubstr("worker:          office/desk-7\n"));
  EXPECT_THAT(text, HasSubstr("location:        cloud=standalone rack=r12\n"));
  EXPECT_THAT(text, HasSubstr("worker process:  pid 4242\n"));
  EXPECT_THAT(text, HasSubstr("capabilities:    graceful-termination, log\n"));
  EXPECT_THAT(text, HasSubstr("credentials:     do not expire\n"));
  EXPECT_THAT(text, HasSubstr("interruption:    none\n"));
}

TEST(FormatStatusTextTest, ShowsExitedWorkerAndNotNegotiated) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  auto status = Sample(now);
  status.set_worker_pid(0);
  status.set_worker_exited(true);
  status.set_worker_exit_status(3);
  status.set_protocol_negotiated(false);
  std::string text = FormatStatusText(status, now, absl::UTCTimeZone());
  EXPECT_THAT(text, HasSubstr("worker process:  exited (3)\n"));
  EXPECT_THAT(text, HasSubstr("capabilities:    not negotiated yet\n"));
}

TEST(FormatStatusJsonTest, IsTheProtobufJsonMappingWithAllFields) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  nlohmann::json json = nlohmann::json::parse(FormatStatusJson(Sample(now)));
  EXPECT_EQ(json["state"], "RUN_STATE_RUNNING");
  EXPECT_EQ(json["workerPid"], 4242);
  EXPECT_EQ(json["workerExited"], false);  // defaults are printed too
  EXPECT_EQ(json["capabilities"], nlohmann::json({"graceful-termination", "log"}));
}

}  // namespace
}  // namespace runner::runnerctl
