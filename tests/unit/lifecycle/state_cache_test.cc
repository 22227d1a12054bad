#include "server/lifecycle/state_cache.h"

#include <sys/stat.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/fakes/process_util.h"

namespace runner::lifecycle {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1780000000);

providers::RunState SampleState() {
  providers::RunState state;
  state.root_url = "https://tc.example.com";
  state.provider_id = "aws-prod";
  state.worker_pool_id = "proj/linux";
  state.worker_group = "us-east-1";
  state.worker_id = "i-0123";
  state.credentials = {
      "worker/aws-prod/proj/linux/us-east-1/i-0123", "token-aaaa", "{\"v\":1}", {}};
  state.credentials_expire = kNow + absl::Hours(2);
  state.registration_secret = "secret-1";
  state.worker_location = {{"cloud", "aws"}, {"region", "us-east-1"}};
  state.provider_metadata = {{"instance-id", "i-0123"}};
  state.worker_config = {{"cachesDir", "/var/cache"}, {"clientId", "old"}};
  state.files = nlohmann::json::array({{{"path", "/x"}, {"content", "eA=="}}});
  return state;
}

TEST(StateCacheTest, RoundTripsTheRunState) {
  test_support::TempDir dir;
  const std::string path = dir.File("state.json");
  ASSERT_TRUE(WriteStateCache(path, SampleState()).ok());
  EXPECT_EQ(test_support::FileMode(path), 0600);

  auto loaded = LoadStateCache(path, kNow);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  const providers::RunState& state = **loaded;
  const providers::RunState want = SampleState();
  EXPECT_EQ(state.root_url, want.root_url);
  EXPECT_EQ(state.provider_id, want.provider_id);
  EXPECT_EQ(state.worker_pool_id, want.worker_pool_id);
  EXPECT_EQ(state.worker_group, want.worker_group);
  EXPECT_EQ(state.worker_id, want.worker_id);
  EXPECT_EQ(state.credentials.client_id, want.credentials.client_id);
  EXPECT_EQ(state.credentials.access_token, want.credentials.access_token);
  EXPECT_EQ(state.credentials.certificate, want.credentials.certificate);
  EXPECT_EQ(state.credentials_expire, want.credentials_expire);
  EXPECT_EQ(state.registration_secret, want.registration_secret);
  EXPECT_EQ(state.worker_location, want.worker_location);
  EXPECT_EQ(state.provider_metadata, want.provider_metadata);
  EXPECT_EQ(state.worker_config, want.worker_config);
  EXPECT_EQ(state.files, want.files);
}

TEST(StateCacheTest, WritesTheUpstreamFieldNames) {
  nlohmann::json written = nlohmann::json::parse(RenderStateCache(SampleState()));
  for (const char* key : {"RootURL", "Credentials", "CredentialsExpire", "RegistrationSecret",
                          "WorkerPoolID", "WorkerGroup", "WorkerID", "ProviderID",
                          "ProviderMetadata", "WorkerConfig", "Files", "WorkerLocation"}) {
    EXPECT_TRUE(written.contains(key)) << key;
  }
  EXPECT_EQ(written["Credentials"]["clientId"], "worker/aws-prod/proj/linux/us-east-1/i-0123");
  EXPECT_EQ(written["CredentialsExpire"], "2026-05-28T22:26:40.000Z");
  providers::RunState no_expiry = SampleState();
  no_expiry.credentials_expire.reset();
  EXPECT_EQ(nlohmann::json::parse(RenderStateCache(no_expiry))["CredentialsExpire"],
            "0001-01-01T00:00:00.000Z");
}

TEST(StateCacheTest, ReadsAFileInTheUpstreamLayout) {
  // As upstream writes it: nanosecond times, null Files and authorizedScopes, no CacheVersion.
  const std::string text = R"({
    "RootURL": "https://tc.example.com",
    "Credentials": {"clientId": "worker/gcp/proj/w/us-1/9", "accessToken": "tok",
                    "certificate": "", "authorizedScopes": null},
    "CredentialsExpire": "2026-05-28T22:13:20.123456789Z",
    "RegistrationSecret": "sec",
    "WorkerPoolID": "proj/w", "WorkerGroup": "us-1", "WorkerID": "9", "ProviderID": "gcp",
    "ProviderMetadata": {"zone": "us-1-a"}, "WorkerConfig": {"a": 1}, "Files": null,
    "WorkerLocation": {"cloud": "google", "zone": "us-1-a"}})";
  auto state = ParseStateCache(text, "/var/lib/state.json");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->worker_id, "9");
  EXPECT_EQ(state->credentials.access_token, "tok");
  EXPECT_EQ(state->registration_secret, "sec");
  ASSERT_TRUE(state->credentials_expire.has_value());
  EXPECT_EQ(absl::ToUnixSeconds(*state->credentials_expire), 1780006400);
  EXPECT_EQ(state->files, nlohmann::json::array());
  EXPECT_EQ(state->worker_location.at("cloud"), "google");

  auto zero = ParseStateCache(R"({"CredentialsExpire": "0001-01-01T00:00:00Z"})", "f");
  ASSERT_TRUE(zero.ok());
  EXPECT_FALSE(zero->credentials_expire.has_value());
}

TEST(StateCacheTest, AMissingFileIsAFreshRun) {
  test_support::TempDir dir;
  auto loaded = LoadStateCache(dir.File("absent.json"), kNow);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(loaded->has_value());
}

TEST(StateCacheTest, RefusesLoosePermissionsNamingTheFile) {
  test_support::TempDir dir;
  const std::string path = dir.File("state.json");
  test_support::WriteFile(path, RenderStateCache(SampleState()), 0644);
  auto loaded = LoadStateCache(path, kNow);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("0644"));
  // Not tightened behind the operator's back.
  EXPECT_EQ(test_support::FileMode(path), 0644);
}

TEST(StateCacheTest, RefusesSymlinks) {
  test_support::TempDir dir;
  const std::string target = dir.File("real.json");
  test_support::WriteFile(target, RenderStateCache(SampleState()), 0600);
  ASSERT_EQ(symlink(target.c_str(), dir.File("link.json").c_str()), 0);
  auto loaded = LoadStateCache(dir.File("link.json"), kNow);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("symbolic link"));
}

TEST(StateCacheTest, RefusesBrokenContentNamingTheFileAndField) {
  test_support::TempDir dir;
  const std::string path = dir.File("state.json");
  struct Case {
    std::string text;
    std::string message;
  } cases[] = {
      {"{not json", "not valid JSON"},
      {"[1]", "expected a JSON object"},
      {R"({"WorkerID": 7})", "field WorkerID: expected a string"},
      {R"({"Credentials": "x"})", "field Credentials: expected an object"},
      {R"({"Credentials": {"accessToken": 5}})", "field Credentials.accessToken"},
      {R"({"CredentialsExpire": "tomorrow"})", "field CredentialsExpire"},
      {R"({"Files": {}})", "field Files: expected a list or null"},
      {R"({"WorkerLocation": {"cloud": 1}})", "field WorkerLocation.cloud"},
      {R"({"CacheVersion": 99})", "newer version"},
  };
  for (const Case& c : cases) {
    test_support::WriteFile(path, c.text, 0600);
    auto loaded = LoadStateCache(path, kNow);
    ASSERT_FALSE(loaded.ok()) << c.text;
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path)) << c.text;
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(c.message)) << c.text;
  }
}

TEST(StateCacheTest, RefusesExpiredCachedCredentials) {
  test_support::TempDir dir;
  const std::string path = dir.File("state.json");
  providers::RunState state = SampleState();
  state.credentials_expire = kNow - absl::Seconds(1);
  ASSERT_TRUE(WriteStateCache(path, state).ok());
  auto loaded = LoadStateCache(path, kNow);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("expired"));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(path));
  // No secret in the message.
  EXPECT_THAT(std::string(loaded.status().message()), Not(HasSubstr("token-aaaa")));
}

TEST(StateCacheTest, RewritingReplacesTheFileAtomically) {
  test_support::TempDir dir;
  const std::string path = dir.File("state.json");
  ASSERT_TRUE(WriteStateCache(path, SampleState()).ok());
  providers::RunState renewed = SampleState();
  renewed.credentials.access_token = "token-bbbb";
  renewed.registration_secret = "secret-2";
  ASSERT_TRUE(WriteStateCache(path, renewed).ok());
  EXPECT_EQ(test_support::FileMode(path), 0600);
  auto loaded = LoadStateCache(path, kNow);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->credentials.access_token, "token-bbbb");
  EXPECT_EQ((*loaded)->registration_secret, "secret-2");
  EXPECT_FALSE(WriteStateCache(dir.File("missing-dir/state.json"), renewed).ok());
}

}  // namespace
}  // namespace runner::lifecycle
