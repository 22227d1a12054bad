#ifndef RUNNER_TESTS_UNIT_PROVIDERS_METADATA_FIXTURE_H_
#define RUNNER_TESTS_UNIT_PROVIDERS_METADATA_FIXTURE_H_

#include <stdlib.h>

#include <optional>
#include <string>
#include <utility>

#include "absl/time/time.h"
#include "gtest/gtest.h"

#include "server/providers/metadata/metadata_client.h"
#include "tests/fakes/http/fake_http_server.h"
#include "tests/unit/taskcluster/test_support.h"

namespace runner::providers::metadata {

// Tests against a fake metadata service on loopback. From SetUp to TearDown the fake runs, the
// environment names it as the metadata base and the log is captured; time, jitter and sleeps are
// fakes so retries are exact and instant.
class MetadataFakeTest : public ::testing::Test {
 protected:
  explicit MetadataFakeTest(fakes::HttpHandler handler)
      : clock_(absl::FromUnixSeconds(1700000000)),
        random_(0.5),
        sleeper_(&clock_),
        server_(std::move(handler)) {}

  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    // Even a client built without an explicit override reaches only the fake.
    setenv(MetadataClient::kBaseUrlEnv, server_.url().c_str(), 1);
    log_.emplace();
  }

  void TearDown() override {
    server_.Stop();
    unsetenv(MetadataClient::kBaseUrlEnv);
    log_.reset();
  }

  // Points `options` at the fake clock, jitter and sleeper, and at the fake as the base.
  void UseFakes(MetadataClientOptions* options) {
    options->clock = &clock_;
    options->random = &random_;
    options->sleeper = &sleeper_;
    options->base_url_override = server_.url();
  }

  // Guards every test: nothing may be sent unless the fake replaced the link-local base.
  bool ReachesOnlyFake(const std::string& base_url) {
    EXPECT_EQ(base_url, server_.url());
    return base_url == server_.url();
  }

  taskcluster::ManualClock clock_;
  taskcluster::FixedRandom random_;
  taskcluster::ClockSleeper sleeper_;
  fakes::FakeHttpServer server_;
  std::optional<taskcluster::LogCapture> log_;  // captures from SetUp to TearDown
};

}  // namespace runner::providers::metadata

#endif  // RUNNER_TESTS_UNIT_PROVIDERS_METADATA_FIXTURE_H_
