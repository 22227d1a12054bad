#ifndef RUNNER_TESTS_UNIT_PROVIDERS_AZURE_TEST_SUPPORT_H_
#define RUNNER_TESTS_UNIT_PROVIDERS_AZURE_TEST_SUPPORT_H_

#include <stdlib.h>

#include <optional>

#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "server/providers/metadata/metadata_client.h"
#include "tests/fakes/azure/fake_azure_metadata.h"
#include "tests/unit/taskcluster/test_support.h"

namespace runner::providers {

// Tests against the fake Azure metadata service. From SetUp to TearDown the fake runs, the
// environment names it as the metadata base (so nothing can reach the link-local address) and
// the log is captured; retry waits advance a manual clock, so budgets are exact and instant.
class AzureFakeTest : public ::testing::Test {
 protected:
  AzureFakeTest() : clock_(absl::FromUnixSeconds(1700000000)), random_(0.5), sleeper_(&clock_) {}

  void SetUp() override {
    ASSERT_TRUE(fake_.Start().ok());
    setenv(metadata::MetadataClient::kBaseUrlEnv, fake_.url().c_str(), 1);
    log_.emplace();
  }

  void TearDown() override {
    fake_.Stop();
    unsetenv(metadata::MetadataClient::kBaseUrlEnv);
    log_.reset();
  }

  // Options on the fake clock, jitter and sleeper, with a short retry budget and attempt limit.
  metadata::MetadataClientOptions FakeOptions() {
    metadata::MetadataClientOptions options;
    options.clock = &clock_;
    options.random = &random_;
    options.sleeper = &sleeper_;
    options.base_url_override = fake_.url();
    options.attempt_timeout = absl::Milliseconds(300);
    options.backoff.max_elapsed = absl::Seconds(3);
    return options;
  }

  taskcluster::ManualClock clock_;
  taskcluster::FixedRandom random_;
  taskcluster::ClockSleeper sleeper_;
  fakes::FakeAzureMetadata fake_;
  std::optional<taskcluster::LogCapture> log_;
};

}  // namespace runner::providers

#endif  // RUNNER_TESTS_UNIT_PROVIDERS_AZURE_TEST_SUPPORT_H_
