#include "server/lifecycle/dummy_worker.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::lifecycle {
namespace {

TEST(RedactedRunStateTest, HidesTokenCertificateAndSecretButKeepsIdentity) {
  providers::RunState state;
  state.root_url = "https://tc.example.com";
  state.worker_pool_id = "p/w";
  state.credentials.client_id = "client";
  state.credentials.access_token = "the-access-token";
  state.credentials.certificate = "{\"the-certificate\":1}";
  state.registration_secret = "the-registration-secret";
  state.worker_config = {{"accessToken", "the-access-token"}, {"keep", 1}};

  std::string dump = RedactedRunState(state).dump();
  for (const char* secret : {"the-access-token", "the-certificate", "the-registration-secret"}) {
    SCOPED_TRACE(secret);
    EXPECT_THAT(dump, ::testing::Not(::testing::HasSubstr(secret)));
  }
  EXPECT_THAT(dump, ::testing::HasSubstr("\"clientId\":\"client\""));
  EXPECT_THAT(dump, ::testing::HasSubstr("\"keep\":1"));
  EXPECT_THAT(dump, ::testing::HasSubstr("\"workerPoolId\":\"p/w\""));
}

}  // namespace
}  // namespace runner::lifecycle
