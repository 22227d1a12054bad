#include "server/providers/azure_provider.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/unit/providers/azure_test_support.h"

namespace runner::providers {
namespace {

using fakes::FakeAzureEvent;
using fakes::FakeAzureMetadata;
using nlohmann::json;
using ::testing::HasSubstr;

// Collects what the watcher reports. Thread-safe.
class RecordingSink : public InterruptionSink {
 public:
  void OnInterruption(const Interruption& interruption) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    seen_.push_back(interruption);
  }
  bool WaitFor(size_t count, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_) {
    auto enough = [this, count]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return seen_.size() >= count; };
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  std::vector<Interruption> seen() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  absl::Mutex mu_;
  std::vector<Interruption> seen_ ABSL_GUARDED_BY(mu_);
};

FakeAzureEvent Event(const std::string& id, const std::string& type,
                     std::vector<std::string> resources = {FakeAzureMetadata::kVmName}) {
  FakeAzureEvent event;
  event.event_id = id;
  event.event_type = type;
  event.resources = std::move(resources);
  return event;
}

class AzureProviderTest : public AzureFakeTest {
 protected:
  void SetUp() override {
    AzureFakeTest::SetUp();
    fake_.SetTags(FakeAzureMetadata::DefaultTags("https://tc.example.com"));
  }

  AzureProviderOptions Options() {
    AzureProviderOptions options;
    options.metadata = FakeOptions();
    options.poll_interval = absl::Milliseconds(20);
    options.poll_timeout = absl::Seconds(10);
    options.startup_check_timeout = absl::Seconds(2);
    return options;
  }

  std::unique_ptr<AzureProvider> Make(AzureProviderOptions options) {
    auto provider = AzureProvider::Create(std::move(options));
    EXPECT_TRUE(provider.ok()) << provider.status();
    return provider.ok() ? *std::move(provider) : nullptr;
  }

  // A provider whose run is configured, ready to watch.
  std::unique_ptr<AzureProvider> Configured(AzureProviderOptions options) {
    auto provider = Make(std::move(options));
    auto proof = provider->ConfigureRun(&state_);
    EXPECT_TRUE(proof.ok()) << proof.status();
    return provider;
  }

  RunState state_;
  RecordingSink sink_;
};

TEST_F(AzureProviderTest, ConfiguresFromTagsAndInstanceAndProvesWithAttestedSignature) {
  auto provider = Make(Options());
  EXPECT_EQ(provider->type(), "azure");
  EXPECT_TRUE(provider->dynamically_provisioned());
  auto proof = provider->ConfigureRun(&state_);
  ASSERT_TRUE(proof.ok()) << proof.status();
  ASSERT_TRUE(proof->has_value());
  EXPECT_EQ(**proof, json({{"document", FakeAzureMetadata::kSignature}}));

  EXPECT_EQ(state_.root_url, "https://tc.example.com");
  EXPECT_EQ(state_.worker_pool_id, "proj-azure/win2022");
  EXPECT_EQ(state_.provider_id, "azure-east");
  EXPECT_EQ(state_.worker_group, "westeurope");
  EXPECT_EQ(state_.worker_id, FakeAzureMetadata::kVmName);
  EXPECT_EQ(state_.LocationJson(), json({{"cloud", "azure"}, {"region", "westeurope"}}));
  EXPECT_EQ(state_.provider_metadata, json({{"vm-id", FakeAzureMetadata::kVmId},
                                            {"instance-type", "Standard_D4s_v5"},
                                            {"region", "westeurope"},
                                            {"local-ipv4", "10.0.0.4"},
                                            {"public-ipv4", "20.30.40.50"}}));
}

TEST_F(AzureProviderTest, OmitsPublicAddressWhenThereIsNone) {
  fake_.SetInterfaces({{{"10.0.0.9", ""}}});
  auto provider = Configured(Options());
  EXPECT_EQ(state_.provider_metadata["local-ipv4"], "10.0.0.9");
  EXPECT_FALSE(state_.provider_metadata.contains("public-ipv4"));
}

TEST_F(AzureProviderTest, ReportsNoAddressesUnlessExactlyOneInterfaceWithOneAddress) {
  fake_.SetInterfaces({{{"10.0.0.9", "1.2.3.4"}}, {{"10.0.1.9", ""}}});
  auto provider = Configured(Options());
  EXPECT_FALSE(state_.provider_metadata.contains("local-ipv4"));
  EXPECT_FALSE(state_.provider_metadata.contains("public-ipv4"));
  EXPECT_EQ(state_.provider_metadata["vm-id"], FakeAzureMetadata::kVmId);
}

TEST_F(AzureProviderTest, NormalisesTrailingSlashOfRootUrl) {
  fake_.SetTags(FakeAzureMetadata::DefaultTags("https://tc.example.com/"));
  auto provider = Configured(Options());
  EXPECT_EQ(state_.root_url, "https://tc.example.com");
}

TEST_F(AzureProviderTest, MissingTagFailsNamingIt) {
  auto tags = FakeAzureMetadata::DefaultTags("https://tc.example.com");
  tags.erase("provider-id");
  fake_.SetTags(tags);
  auto provider = Make(Options());
  auto proof = provider->ConfigureRun(&state_);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(proof.status().message()), HasSubstr("missing or empty tag provider-id"));
}

TEST_F(AzureProviderTest, AttestedDocumentWithOtherEncodingFails) {
  fake_.SetAttested({{"encoding", "json"}, {"signature", "x"}});
  auto provider = Make(Options());
  auto proof = provider->ConfigureRun(&state_);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().message(),
            "azure metadata /metadata/attested/document: encoding is not pkcs7");
}

TEST_F(AzureProviderTest, RefusesToStartWhenPreemptionIsAlreadyAnnounced) {
  fake_.PublishEvent(Event("E-early", "Preempt"));
  auto provider = Make(Options());
  auto proof = provider->ConfigureRun(&state_);
  ASSERT_FALSE(proof.ok());
  EXPECT_EQ(proof.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(proof.status().message()), HasSubstr("about to shutdown"));
  EXPECT_THAT(std::string(proof.status().message()), HasSubstr("E-early"));

  // The same check guards a cached run.
  AzureProvider* cached = provider.get();
  EXPECT_EQ(cached->UseCachedRun(&state_).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(AzureProviderTest, StartsDespiteAdvisoryOrForeignEventsOrSlowScheduledEvents) {
  fake_.PublishEvent(Event("E-reboot", "Reboot"));
  fake_.PublishEvent(Event("E-other", "Preempt", {"some-other-vm"}));
  fake_.PublishEvent(Event("E-freeze", "Freeze"));
  auto provider = Configured(Options());

  // The first answer can take minutes on a real VM; the start does not wait for it.
  fake_.SetScheduledEventsDelay(absl::Seconds(30));
  AzureProviderOptions options = Options();
  options.startup_check_timeout = absl::Milliseconds(100);
  RunState other;
  auto slow = Make(options);
  EXPECT_TRUE(slow->ConfigureRun(&other).ok());
}

TEST_F(AzureProviderTest, WatcherReportsEachEventOnceWithKindAndDeadline) {
  auto provider = Configured(Options());
  ASSERT_TRUE(provider->StartWatching(&sink_).ok());
  FakeAzureEvent preempt = Event("E-1", "Preempt");
  preempt.not_before = "Mon, 19 Sep 2016 18:29:47 GMT";
  fake_.PublishEvent(preempt);
  ASSERT_TRUE(sink_.WaitFor(1, absl::Seconds(10)));

  // Many more polls see the same event; it is not reported again.
  size_t polls = fake_.scheduled_event_polls();
  ASSERT_TRUE(fake_.WaitForPolls(polls + 5, absl::Seconds(10)));
  provider->StopWatching();
  auto seen = sink_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].source, "azure");
  EXPECT_EQ(seen[0].kind, "preemption");
  EXPECT_TRUE(seen[0].terminates);
  ASSERT_TRUE(seen[0].deadline.has_value());
  EXPECT_EQ(*seen[0].deadline, absl::FromUnixSeconds(1474309787));
}

TEST_F(AzureProviderTest, WatcherIgnoresFreezeAndOtherVmsAndTreatsRebootAsAdvisory) {
  auto provider = Configured(Options());
  ASSERT_TRUE(provider->StartWatching(&sink_).ok());
  fake_.PublishEvent(Event("E-freeze", "Freeze"));
  fake_.PublishEvent(Event("E-other", "Terminate", {"vm-azure-8"}));
  fake_.PublishEvent(Event("E-none", "Preempt", {}));
  ASSERT_TRUE(fake_.WaitForEventServed("E-other", absl::Seconds(10)));
  size_t polls = fake_.scheduled_event_polls();
  ASSERT_TRUE(fake_.WaitForPolls(polls + 3, absl::Seconds(10)));
  EXPECT_TRUE(sink_.seen().empty());

  // Events are matched to this VM whatever the case of its name.
  fake_.PublishEvent(Event("E-reboot", "Reboot", {"VM-AZURE-7"}));
  fake_.PublishEvent(Event("E-redeploy", "Redeploy"));
  fake_.PublishEvent(Event("E-term", "Terminate", {"vm-azure-8", FakeAzureMetadata::kVmName}));
  ASSERT_TRUE(sink_.WaitFor(3, absl::Seconds(10)));
  provider->StopWatching();
  auto seen = sink_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].kind, "reboot");
  EXPECT_FALSE(seen[0].terminates);
  EXPECT_FALSE(seen[0].deadline.has_value());
  EXPECT_EQ(seen[1].kind, "redeploy");
  EXPECT_FALSE(seen[1].terminates);
  EXPECT_EQ(seen[2].kind, "termination");
  EXPECT_TRUE(seen[2].terminates);
}

TEST_F(AzureProviderTest, EventAppearingLaterIsReportedWithinAPollInterval) {
  auto provider = Configured(Options());
  fake_.PublishEventAfter(Event("E-later", "Preempt"), absl::Milliseconds(300));
  ASSERT_TRUE(provider->StartWatching(&sink_).ok());
  ASSERT_TRUE(sink_.WaitFor(1, absl::Seconds(10)));
  EXPECT_EQ(sink_.seen()[0].kind, "preemption");
}

TEST_F(AzureProviderTest, SlowAnswersNeverOverlap) {
  auto provider = Configured(Options());
  // Each answer takes five poll intervals.
  fake_.SetScheduledEventsDelay(absl::Milliseconds(100));
  ASSERT_TRUE(provider->StartWatching(&sink_).ok());
  size_t polls = fake_.scheduled_event_polls();
  ASSERT_TRUE(fake_.WaitForPolls(polls + 4, absl::Seconds(10)));
  provider->StopWatching();
  EXPECT_EQ(fake_.max_scheduled_events_in_flight(), 1);
}

TEST_F(AzureProviderTest, StopWatchingReturnsPromptlyMidRequest) {
  auto provider = Configured(Options());
  fake_.SetScheduledEventsDelay(absl::Seconds(60));
  size_t before = fake_.requests().size();
  ASSERT_TRUE(provider->StartWatching(&sink_).ok());
  // Wait until the watcher's request is held by the fake.
  ASSERT_TRUE(fake_.WaitForRequests(before + 1, absl::Seconds(10)));
  absl::Time start = absl::Now();
  provider->StopWatching();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(provider->StartWatching(&sink_).code() == absl::StatusCode::kFailedPrecondition);
}

TEST_F(AzureProviderTest, WatcherErrorsAreLoggedAtMostOncePerMinuteAndNeverStopIt) {
  auto provider = Configured(Options());
  fake_.SetAnswer(FakeAzureMetadata::Endpoint::kScheduledEvents,
                  FakeAzureMetadata::ScriptedAnswer{500, "", absl::ZeroDuration()});
  ASSERT_TRUE(provider->StartWatching(&sink_).ok());
  size_t polls = fake_.scheduled_event_polls();
  ASSERT_TRUE(fake_.WaitForPolls(polls + 5, absl::Seconds(10)));
  EXPECT_EQ(log_->LinesContaining("scheduled events unavailable").size(), 1u);

  // A minute later (on the injected clock) the next failure is logged again.
  clock_.Advance(absl::Minutes(1));
  polls = fake_.scheduled_event_polls();
  ASSERT_TRUE(fake_.WaitForPolls(polls + 2, absl::Seconds(10)));
  EXPECT_EQ(log_->LinesContaining("scheduled events unavailable").size(), 2u);

  // Not JSON is an error like any other, and the watcher goes on to see the event afterwards.
  fake_.SetAnswer(FakeAzureMetadata::Endpoint::kScheduledEvents,
                  FakeAzureMetadata::ScriptedAnswer{200, "<html>", absl::ZeroDuration()});
  polls = fake_.scheduled_event_polls();
  ASSERT_TRUE(fake_.WaitForPolls(polls + 2, absl::Seconds(10)));
  fake_.SetAnswer(FakeAzureMetadata::Endpoint::kScheduledEvents, std::nullopt);
  fake_.PublishEvent(Event("E-after-errors", "Preempt"));
  ASSERT_TRUE(sink_.WaitFor(1, absl::Seconds(10)));
  EXPECT_EQ(log_->LinesContaining("scheduled events unavailable").size(), 2u);
}

TEST_F(AzureProviderTest, WatchNeedsAConfiguredRun) {
  auto provider = Make(Options());
  EXPECT_EQ(provider->StartWatching(&sink_).code(), absl::StatusCode::kFailedPrecondition);
  provider->StopWatching();  // harmless without a watcher
}

TEST_F(AzureProviderTest, NothingIsSentBeforeConfigure) {
  auto provider = Make(Options());
  EXPECT_TRUE(fake_.requests().empty());
}

}  // namespace
}  // namespace runner::providers
