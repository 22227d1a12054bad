#include "server/lifecycle/redacted_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "server/lifecycle/worker_config.h"

namespace runner::lifecycle {
namespace {

TEST(RedactedConfigTest, ValuesFromSecretsAndCredentialsAreRedacted) {
  providers::RunState state;
  state.credentials.access_token = "TESTONLY-token-abcdef";
  state.credentials.certificate = R"({"version":1,"seed":"TESTONLY-seed"})";
  state.worker_config = {{"cachesDir", "/var/cache"}, {"ssh", {{"keys", {"pool-key"}}}}};

  // A structured secret: its config members, including a nested object and an array that the
  // merge concatenates, come from the secrets service.
  nlohmann::json secret = {{"config",
                            {{"livelogSecret", "TESTONLY-livelog"},
                             {"nested", {{"password", "TESTONLY-pw"}, {"port", 22}}},
                             {"ssh", {{"keys", {"secret-key"}}}}}}};
  ASSERT_TRUE(ApplySecret(secret, "worker-pool:p/w", &state).ok());
  // What the worker implementation adds last.
  state.worker_config["accessToken"] = state.credentials.access_token;
  state.worker_config["certificate"] = state.credentials.certificate;
  state.worker_config["staticThing"] = "prefix-TESTONLY-static-suffix";

  RedactedConfig redacted = RedactWorkerConfig(state, {"TESTONLY-static", "abc"});
  const nlohmann::json& config = redacted.config;
  EXPECT_EQ(config["cachesDir"], "/var/cache");
  EXPECT_EQ(config["livelogSecret"], kRedacted);
  EXPECT_EQ(config["nested"]["password"], kRedacted);
  EXPECT_EQ(config["nested"]["port"], kRedacted);
  EXPECT_EQ(config["ssh"]["keys"], kRedacted);
  EXPECT_EQ(config["accessToken"], kRedacted);
  EXPECT_EQ(config["certificate"], kRedacted);
  EXPECT_EQ(config["staticThing"], kRedacted);
  EXPECT_THAT(
      redacted.redacted,
      ::testing::ElementsAre("/accessToken", "/certificate", "/livelogSecret", "/nested/password",
                             "/nested/port", "/ssh/keys", "/staticThing"));
  EXPECT_THAT(config.dump(), ::testing::Not(::testing::HasSubstr("TESTONLY")));
  // The state itself is untouched.
  EXPECT_EQ(state.worker_config["livelogSecret"], "TESTONLY-livelog");
}

TEST(RedactedConfigTest, LegacySecretKeysWithSlashesAreEscapedPointers) {
  providers::RunState state;
  ASSERT_TRUE(ApplySecret({{"a/b", "TESTONLY-x"}, {"t~", 1}}, "worker-type:p/w", &state).ok());
  RedactedConfig redacted = RedactWorkerConfig(state, {});
  EXPECT_THAT(redacted.redacted, ::testing::ElementsAre("/a~1b", "/t~0"));
  EXPECT_EQ(redacted.config["a/b"], kRedacted);
}

}  // namespace
}  // namespace runner::lifecycle
