#include "server/providers/aws_provider.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/aws/fake_aws_metadata.h"
#include "tests/unit/providers/interruption_recorder.h"
#include "tests/unit/taskcluster/test_support.h"

namespace runner::providers {
namespace {

using ::testing::HasSubstr;

constexpr char kRootUrl[] = "https://tc.example.com";
constexpr char kInstanceAction[] = "/latest/meta-data/spot/instance-action";
constexpr char kRebalance[] = "/latest/meta-data/events/recommendations/rebalance";

class AwsProviderTest : public ::testing::Test {
 protected:
  AwsProviderTest()
      : clock_(absl::FromUnixSeconds(1700000000)),
        random_(0.5),
        sleeper_(&clock_),
        instance_(fakes::FakeAwsInstance::Typical(kRootUrl)) {}

  void SetUp() override { log_.emplace(); }

  // Starts the fake with `instance_` and builds a provider on it. Retries use the manual clock,
  // so a spent budget costs no real time; the watcher polls every 10 ms.
  void Start(bool manual_clock = true) {
    fake_ = std::make_unique<fakes::FakeAwsMetadata>(instance_);
    ASSERT_TRUE(fake_->Start().ok());
    AwsProviderOptions options;
    options.metadata.base_url_override = fake_->url();
    if (manual_clock) {
      options.metadata.clock = &clock_;
      options.metadata.random = &random_;
      options.metadata.sleeper = &sleeper_;
    }
    options.metadata.backoff.max_elapsed = absl::Minutes(2);
    options.poll_interval = absl::Milliseconds(10);
    options.metadata.attempt_timeout = attempt_timeout_;
    auto provider = AwsProvider::Create(config::ProviderConfig{}, options);
    ASSERT_TRUE(provider.ok()) << provider.status();
    provider_ = std::move(provider).value();
    ASSERT_EQ(provider_->metadata_base_url(), fake_->url());
  }

  void TearDown() override {
    if (provider_ != nullptr) provider_->StopWatching();
    provider_.reset();
    fake_.reset();
    log_.reset();
  }

  taskcluster::ManualClock clock_;
  taskcluster::FixedRandom random_;
  taskcluster::ClockSleeper sleeper_;
  absl::Duration attempt_timeout_ = absl::Seconds(2);
  fakes::FakeAwsInstance instance_;
  std::unique_ptr<fakes::FakeAwsMetadata> fake_;
  std::unique_ptr<AwsProvider> provider_;
  std::optional<taskcluster::LogCapture> log_;
};

TEST_F(AwsProviderTest, ConfigureFillsIdentityLocationMetadataAndByteExactProof) {
  // A trailing '/' in the pool's rootUrl is dropped instead of failing the sanity check.
  instance_ = fakes::FakeAwsInstance::Typical(absl::StrCat(kRootUrl, "/"));
  Start();
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  ASSERT_TRUE(proof.ok()) << proof.status();

  EXPECT_EQ(state.root_url, kRootUrl);
  EXPECT_EQ(state.provider_id, "aws-spot");
  EXPECT_EQ(state.worker_pool_id, "proj-aws/linux");
  EXPECT_EQ(state.worker_group, "us-west-2");
  EXPECT_EQ(state.worker_id, "i-0123456789abcdef0");
  EXPECT_EQ(state.LocationJson(),
            nlohmann::json(
                {{"cloud", "aws"}, {"region", "us-west-2"}, {"availabilityZone", "us-west-2b"}}));
  EXPECT_EQ(state.provider_metadata,
            nlohmann::json({{"instance-id", "i-0123456789abcdef0"},
                            {"image", "ami-0abcdef1234567890"},
                            {"instance-type", "m5.large"},
                            {"region", "us-west-2"},
                            {"availability-zone", "us-west-2b"},
                            {"local-ipv4", "10.0.1.12"},
                            {"public-hostname", "ec2-54-1-2-3.us-west-2.compute.amazonaws.com"},
                            {"public-ipv4", "54.1.2.3"}}));
  ASSERT_TRUE(proof->has_value());
  EXPECT_EQ((**proof)["document"].get<std::string>(), instance_.identity_document);
  EXPECT_EQ((**proof)["signature"].get<std::string>(), instance_.signature);
  // The user data's workerConfig is not the provider's to apply.
  EXPECT_EQ(state.worker_config, nlohmann::json::object());
  EXPECT_TRUE(provider_->dynamically_provisioned());
}

TEST_F(AwsProviderTest, InstanceWithoutPublicAddressStartsWithoutThoseKeys) {
  instance_.public_hostname.reset();
  instance_.public_ipv4.reset();
  Start();
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_FALSE(state.provider_metadata.contains("public-hostname"));
  EXPECT_FALSE(state.provider_metadata.contains("public-ipv4"));
  EXPECT_EQ(state.provider_metadata["local-ipv4"], "10.0.1.12");
}

TEST_F(AwsProviderTest, RefusesToStartWhenTerminationIsAlreadyScheduled) {
  Start();
  fake_->SetSpotTerminationTime("2026-12-04T20:00:00Z");
  RunState state;
  auto fresh = provider_->ConfigureRun(&state);
  EXPECT_EQ(fresh.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(fresh.status().message(), HasSubstr("instance is about to shutdown"));
  EXPECT_EQ(fake_->Count("GET", "/latest/user-data"), 0);

  absl::Status cached = provider_->UseCachedRun(&state);
  EXPECT_EQ(cached.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(AwsProviderTest, CachedRunIsAcceptedWithoutATerminationNotice) {
  Start();
  RunState state;
  EXPECT_TRUE(provider_->UseCachedRun(&state).ok());
}

TEST_F(AwsProviderTest, BadBootstrapDataNamesTheEndpointAndTheProblem) {
  struct Case {
    std::string path;
    std::string body;
    std::string expected;
  };
  const Case cases[] = {
      {"/user-data", "#!/bin/bash\necho not json", "/latest/user-data: not a JSON object"},
      {"/user-data", R"({"rootUrl":"https://tc","workerPoolId":"a/b","providerId":"p"})",
       "/latest/user-data: missing string field workerGroup"},
      {"/dynamic/instance-identity/document", "<html>",
       "/latest/dynamic/instance-identity/document: not a JSON object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    instance_ = fakes::FakeAwsInstance::Typical(kRootUrl);
    Start();
    fake_->Set(c.path, c.body);
    RunState state;
    auto proof = provider_->ConfigureRun(&state);
    EXPECT_EQ(proof.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(proof.status().message(), HasSubstr(c.expected));
    // Bootstrap data may hold secrets: never in the error.
    EXPECT_THAT(proof.status().message(), ::testing::Not(HasSubstr("echo")));
  }
}

TEST_F(AwsProviderTest, ServiceAnswering500ForeverGivesUpAfterTheBudgetNamingTheEndpoint) {
  Start();
  fake_->SetStatus("/dynamic/instance-identity/signature", 500);
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(proof.status().message(), HasSubstr("/latest/dynamic/instance-identity/signature"));
  EXPECT_THAT(proof.status().message(), HasSubstr("500"));
  EXPECT_THAT(proof.status().message(), HasSubstr("gave up after"));
  EXPECT_GT(fake_->Count("GET", "/latest/dynamic/instance-identity/signature"), 3);
}

TEST_F(AwsProviderTest, ServiceThatTimesOutGivesUpAfterTheBudgetNamingTheEndpoint) {
  attempt_timeout_ = absl::Milliseconds(100);
  Start();
  fake_->SetStatus("/user-data", 200, "{}", absl::Seconds(5));
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(proof.status().message(), HasSubstr("/latest/user-data"));
  EXPECT_THAT(proof.status().message(), HasSubstr("gave up after"));
}

TEST_F(AwsProviderTest, SpotNoticeIsReportedOnceWithItsDeadline) {
  Start(/*manual_clock=*/false);
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(fake_->WaitForCount("GET", kInstanceAction, 2, absl::Seconds(10)));
  EXPECT_TRUE(sink.seen().empty());

  fake_->SetSpotInstanceAction("terminate", "2026-12-04T20:02:00Z");
  ASSERT_TRUE(sink.WaitFor(1, absl::Seconds(10)));
  // Many more polls later there is still only the one notice.
  int polls = fake_->Count("GET", kRebalance);
  ASSERT_TRUE(fake_->WaitForCount("GET", kRebalance, polls + 5, absl::Seconds(10)));
  auto seen = sink.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].source, "aws");
  EXPECT_EQ(seen[0].kind, "spot-termination");
  EXPECT_TRUE(seen[0].terminates);
  ASSERT_TRUE(seen[0].deadline.has_value());
  EXPECT_EQ(*seen[0].deadline,
            absl::FromCivil(absl::CivilSecond(2026, 12, 4, 20, 2, 0), absl::UTCTimeZone()));
}

TEST_F(AwsProviderTest, OlderTerminationTimeNoticeAloneIsReported) {
  Start(/*manual_clock=*/false);
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(fake_->WaitForCount("GET", kInstanceAction, 1, absl::Seconds(10)));
  fake_->SetSpotTerminationTime("2026-12-04T20:02:00Z");
  ASSERT_TRUE(sink.WaitFor(1, absl::Seconds(10)));
  EXPECT_EQ(sink.seen()[0].kind, "spot-termination");
  EXPECT_TRUE(sink.seen()[0].deadline.has_value());
}

TEST_F(AwsProviderTest, AdvisoryEventsAreReportedOnceEachAndDoNotTerminate) {
  Start(/*manual_clock=*/false);
  InterruptionRecorder sink;
  fake_->SetRebalanceRecommendation("2026-12-04T19:00:00Z");
  fake_->SetScheduledMaintenance(
      R"([{"Code":"system-reboot","EventId":"instance-event-1","NotBefore":"21 Jan 2027 09:00:43 GMT","State":"active"},)"
      R"({"Code":"instance-stop","EventId":"instance-event-0","State":"completed"}])");
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(sink.WaitFor(2, absl::Seconds(10)));
  int polls = fake_->Count("GET", kRebalance);
  ASSERT_TRUE(fake_->WaitForCount("GET", kRebalance, polls + 5, absl::Seconds(10)));
  auto seen = sink.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].kind, "rebalance-recommendation");
  EXPECT_FALSE(seen[0].terminates);
  EXPECT_EQ(seen[1].kind, "scheduled-maintenance:system-reboot");
  EXPECT_FALSE(seen[1].terminates);
  ASSERT_TRUE(seen[1].deadline.has_value());
  EXPECT_EQ(*seen[1].deadline,
            absl::FromCivil(absl::CivilSecond(2027, 1, 21, 9, 0, 43), absl::UTCTimeZone()));

  // A new recommendation is a new notice.
  fake_->SetRebalanceRecommendation("2026-12-04T19:30:00Z");
  ASSERT_TRUE(sink.WaitFor(3, absl::Seconds(10)));
  EXPECT_EQ(sink.seen()[2].kind, "rebalance-recommendation");
}

TEST_F(AwsProviderTest, RejectedTokenDuringTheWatchIsReplacedAndTheNoticeStillArrives) {
  Start(/*manual_clock=*/false);
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(fake_->WaitForCount("GET", kInstanceAction, 2, absl::Seconds(10)));
  ASSERT_EQ(fake_->tokens_issued(), 1);

  fake_->RejectIssuedTokens();
  fake_->SetSpotInstanceAction("stop", "2026-12-04T20:02:00Z");
  ASSERT_TRUE(sink.WaitFor(1, absl::Seconds(10)));
  EXPECT_EQ(sink.seen()[0].kind, "spot-stop");
  EXPECT_EQ(fake_->tokens_issued(), 2);
}

TEST_F(AwsProviderTest, StopWatchingReturnsPromptlyWhileARequestIsInFlight) {
  attempt_timeout_ = absl::Seconds(20);
  Start(/*manual_clock=*/false);
  fake_->SetStatus("/meta-data/spot/instance-action", 404, "", absl::Seconds(30));
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(fake_->WaitForCount("GET", kInstanceAction, 1, absl::Seconds(10)));

  absl::Time before = absl::Now();
  provider_->StopWatching();
  EXPECT_LT(absl::Now() - before, absl::Seconds(3));
  provider_->StopWatching();  // idempotent
}

TEST_F(AwsProviderTest, WatchFailuresAreLoggedAtMostOncePerIntervalAndTheWatchGoesOn) {
  Start(/*manual_clock=*/false);
  fake_->SetStatus("/meta-data/spot/instance-action", 500);
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(fake_->WaitForCount("GET", kInstanceAction, 10, absl::Seconds(10)));
  EXPECT_EQ(log_->LinesContaining("interruption poll failed").size(), 1u);

  // The service recovers and the notice still arrives.
  fake_->SetSpotInstanceAction("terminate", "2026-12-04T20:02:00Z");
  ASSERT_TRUE(sink.WaitFor(1, absl::Seconds(10)));
}

TEST(MakeProviderTest, BuildsTheCloudProvidersWithoutContactingAnything) {
  for (const char* type : {"aws", "google"}) {
    SCOPED_TRACE(type);
    config::ProviderConfig config;
    config.provider_type = type;
    auto provider = MakeProvider(config);
    ASSERT_TRUE(provider.ok()) << provider.status();
    EXPECT_EQ((*provider)->type(), type);
    EXPECT_TRUE((*provider)->dynamically_provisioned());
  }
}

TEST(AwsNoticeParseTest, InstanceActionBodies) {
  EXPECT_EQ(ParseSpotInstanceAction(R"({"action":"hibernate","time":"2026-01-02T03:04:05Z"})").kind,
            "spot-hibernate");
  Interruption odd = ParseSpotInstanceAction("not json");
  EXPECT_EQ(odd.kind, "spot-termination");
  EXPECT_TRUE(odd.terminates);
  EXPECT_FALSE(odd.deadline.has_value());
  EXPECT_FALSE(ParseSpotTerminationTime("soon").deadline.has_value());
}

TEST(AwsNoticeParseTest, MaintenanceThatIsNotAnArrayIsAnErrorNamingTheEndpoint) {
  auto events = ParseScheduledMaintenance(R"({"Code":"system-reboot"})");
  EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(events.status().message(),
              HasSubstr("/latest/meta-data/events/maintenance/scheduled: not a JSON array"));
  auto none = ParseScheduledMaintenance("[]");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace runner::providers
