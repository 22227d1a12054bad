#include "server/providers/google_provider.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "server/providers/metadata/google_metadata.h"
#include "tests/fakes/google/fake_google_metadata.h"
#include "tests/unit/providers/interruption_recorder.h"
#include "tests/unit/taskcluster/test_support.h"

namespace runner::providers {
namespace {

using ::testing::HasSubstr;

constexpr char kRootUrl[] = "https://tc.example.com";

class GoogleProviderTest : public ::testing::Test {
 protected:
  GoogleProviderTest()
      : clock_(absl::FromUnixSeconds(1700000000)), random_(0.5), sleeper_(&clock_) {}

  void SetUp() override { log_.emplace(); }

  // Starts the fake for `root_url` and builds a provider on it: configuration retries run on the
  // manual clock (a spent budget costs no real time), the watcher backs off in milliseconds.
  void Start(const std::string& root_url = kRootUrl) {
    fake_ = std::make_unique<fakes::FakeGoogleMetadata>(root_url);
    ASSERT_TRUE(fake_->Start().ok());
    GoogleProviderOptions options;
    options.metadata.base_url_override = fake_->url();
    options.metadata.clock = &clock_;
    options.metadata.random = &random_;
    options.metadata.sleeper = &sleeper_;
    options.metadata.backoff.max_elapsed = absl::Minutes(2);
    options.error_backoff = absl::Milliseconds(20);
    options.max_error_backoff = absl::Milliseconds(40);
    options.min_request_interval = absl::Milliseconds(10);
    auto provider = GoogleProvider::Create(config::ProviderConfig{}, options);
    ASSERT_TRUE(provider.ok()) << provider.status();
    provider_ = std::move(provider).value();
    ASSERT_EQ(provider_->metadata_base_url(),
              absl::StrCat(fake_->url(), fakes::FakeGoogleMetadata::kPrefix));
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
  std::unique_ptr<fakes::FakeGoogleMetadata> fake_;
  std::unique_ptr<GoogleProvider> provider_;
  std::optional<taskcluster::LogCapture> log_;
};

TEST_F(GoogleProviderTest, ConfigureFillsIdentityLocationMetadataAndTokenProof) {
  // The audience is the rootUrl as given; the state's rootURL loses the trailing '/'.
  Start(absl::StrCat(kRootUrl, "/"));
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  ASSERT_TRUE(proof.ok()) << proof.status();

  EXPECT_EQ(state.root_url, kRootUrl);
  EXPECT_EQ(state.provider_id, "gcp-pool");
  EXPECT_EQ(state.worker_pool_id, "proj-gcp/linux");
  EXPECT_EQ(state.worker_group, "us-east1");
  EXPECT_EQ(state.worker_id, "4520031799277581759");
  EXPECT_EQ(state.LocationJson(),
            nlohmann::json({{"cloud", "google"}, {"region", "us-east1"}, {"zone", "us-east1-b"}}));
  EXPECT_EQ(state.provider_metadata,
            nlohmann::json({{"instance-id", "4520031799277581759"},
                            {"project-id", "proj-gcp-123"},
                            {"image", "projects/proj-gcp-123/global/images/worker-image-7"},
                            {"instance-type", "projects/1234567/machineTypes/n2-standard-4"},
                            {"zone", "us-east1-b"},
                            {"region", "us-east1"},
                            {"public-hostname", "worker-1.us-east1-b.c.proj-gcp-123.internal"},
                            {"public-ipv4", "35.1.2.3"},
                            {"local-ipv4", "10.128.0.7"}}));
  ASSERT_TRUE(proof->has_value());
  EXPECT_EQ(**proof,
            nlohmann::json(
                {{"token", "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJmYWtlIn0.ZmFrZS1nY3Atc2lnbmF0dXJl"}}));
  EXPECT_EQ(state.worker_config, nlohmann::json::object());
  // Every request carried the flavor header (the fake answers 403 otherwise).
  for (const auto& request : fake_->requests()) {
    ASSERT_NE(request.FindHeader("Metadata-Flavor"), nullptr) << request.target;
  }
}

TEST_F(GoogleProviderTest, VmWithoutExternalAddressStartsWithoutPublicIpv4) {
  Start();
  fake_->Remove("/instance/network-interfaces/0/access-configs/0/external-ip");
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_FALSE(state.provider_metadata.contains("public-ipv4"));
  EXPECT_EQ(state.provider_metadata["local-ipv4"], "10.128.0.7");
}

TEST_F(GoogleProviderTest, RefusesToStartWhenAlreadyPreempted) {
  Start();
  fake_->Preempt();
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(proof.status().message(), HasSubstr("instance is about to shutdown"));
  EXPECT_EQ(fake_->Count("/instance/id"), 0);
  EXPECT_EQ(provider_->UseCachedRun(&state).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(GoogleProviderTest, AttributesThatAreNotJsonNameTheEndpoint) {
  Start();
  fake_->Set("/instance/attributes/taskcluster", "workerPoolId=a/b");
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(proof.status().message(),
              HasSubstr("/computeMetadata/v1/instance/attributes/taskcluster: not a JSON object"));
}

TEST_F(GoogleProviderTest, ServiceAnswering500ForeverGivesUpNamingTheEndpoint) {
  Start();
  fake_->SetStatus("/instance/zone", 500);
  RunState state;
  auto proof = provider_->ConfigureRun(&state);
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(proof.status().message(), HasSubstr("/computeMetadata/v1/instance/zone"));
  EXPECT_THAT(proof.status().message(), HasSubstr("gave up after"));
}

TEST_F(GoogleProviderTest, PreemptionDuringTheHangingRequestIsReportedOnceAtOnce) {
  Start();
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(fake_->WaitForHanging(1, absl::Seconds(10)));
  EXPECT_TRUE(sink.seen().empty());

  fake_->Preempt();
  ASSERT_TRUE(sink.WaitFor(1, absl::Seconds(5)));
  provider_->StopWatching();
  auto seen = sink.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].source, "google");
  EXPECT_EQ(seen[0].kind, "preemption");
  EXPECT_TRUE(seen[0].terminates);
  // The watch ended with the notice: no request was left hanging.
  EXPECT_EQ(fake_->hanging(), 0);
  EXPECT_EQ(fake_->hanging_received(), 1);
}

TEST_F(GoogleProviderTest, PreemptionBeforeTheWatchStartsIsSeenByTheFirstRequest) {
  Start();
  fake_->Preempt();
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(sink.WaitFor(1, absl::Seconds(5)));
  EXPECT_EQ(fake_->hanging_received(), 0);
}

TEST_F(GoogleProviderTest, StopWatchingEndsTheHangingRequestPromptly) {
  Start();
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  ASSERT_TRUE(fake_->WaitForHanging(1, absl::Seconds(10)));

  absl::Time before = absl::Now();
  provider_->StopWatching();
  EXPECT_LT(absl::Now() - before, absl::Seconds(3));
  EXPECT_TRUE(sink.seen().empty());
}

TEST_F(GoogleProviderTest, FailuresBackOffAreLoggedOnceAndTheWatchRecovers) {
  Start();
  fake_->FailPreempted(500);
  InterruptionRecorder sink;
  ASSERT_TRUE(provider_->StartWatching(&sink).ok());
  absl::Time started = absl::Now();
  while (fake_->Count("/instance/preempted") < 6) {
    ASSERT_LT(absl::Now() - started, absl::Seconds(10));
    absl::SleepFor(absl::Milliseconds(5));
  }
  // Six failed requests took at least the backoff between them (20 + 40 * 4 ms).
  EXPECT_GE(absl::Now() - started, absl::Milliseconds(180));
  EXPECT_EQ(log_->LinesContaining("interruption poll failed").size(), 1u);

  fake_->FailPreempted(0);
  fake_->Preempt();
  ASSERT_TRUE(sink.WaitFor(1, absl::Seconds(5)));
}

TEST(GoogleZoneTest, ZoneIsTheLastSegmentAndRegionDropsItsSuffix) {
  struct Case {
    std::string value, zone, region;
  };
  const Case cases[] = {
      {"projects/123/zones/us-east1-b", "us-east1-b", "us-east1"},
      {"/project/1234/zone/in-central1-b", "in-central1-b", "in-central1"},
      {"europe-west4-a", "europe-west4-a", "europe-west4"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.value);
    auto zone = metadata::ParseGoogleZone(c.value);
    ASSERT_TRUE(zone.ok()) << zone.status();
    EXPECT_EQ(zone->zone, c.zone);
    EXPECT_EQ(zone->region, c.region);
  }
  EXPECT_EQ(metadata::ParseGoogleZone("projects/123/zones/").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GoogleBootstrapTest, MissingKeyIsNamedAndWorkerConfigIgnored) {
  auto parsed = metadata::ParseGoogleBootstrap(
      "/attrs", R"({"rootUrl":"https://tc","workerPoolId":"a/b","providerId":"p",)"
                R"("workerGroup":"g","workerConfig":{"x":1}})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->worker_group, "g");

  auto missing = metadata::ParseGoogleBootstrap("/attrs", R"({"rootUrl":"https://tc"})");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("/attrs: missing string field workerPoolId"));
  auto wrong_type = metadata::ParseGoogleBootstrap(
      "/attrs", R"({"rootUrl":7,"workerPoolId":"a/b","providerId":"p","workerGroup":"g"})");
  EXPECT_THAT(wrong_type.status().message(), HasSubstr("missing string field rootUrl"));
}

}  // namespace
}  // namespace runner::providers
