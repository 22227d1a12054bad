#include "server/lifecycle/generic_worker.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::lifecycle {
namespace {

using nlohmann::json;

providers::RunState FullState() {
  providers::RunState state;
  state.root_url = "https://tc.example.com";
  state.provider_id = "aws-prod";
  state.worker_pool_id = "prov/wt";
  state.worker_group = "us-east-1";
  state.worker_id = "i-0abc123";
  state.credentials.client_id = "worker/aws-prod/prov/wt/us-east-1/i-0abc123";
  state.credentials.access_token = "token-for-tests";
  state.credentials.certificate = R"({"version":1})";
  state.worker_location = {
      {"cloud", "aws"}, {"region", "us-east-1"}, {"availabilityZone", "us-east-1a"}};
  state.provider_metadata = {{"public-ipv4", "3.3.3.3"},
                             {"local-ipv4", "10.0.0.7"},
                             {"instance-type", "m5.large"},
                             {"instance-id", "i-0abc123"},
                             {"region", "us-east-1"},
                             {"availability-zone", "us-east-1a"},
                             {"image", "ami-1"}};
  state.worker_config = {{"cachesDir", "/var/cache/gw"},
                         {"workerTypeMetadata", {{"from-worker-pool", true}}}};
  return state;
}

TEST(DeriveGenericWorkerConfigTest, AddsExactlyTheKeysGenericWorkerExpects) {
  providers::RunState state = FullState();
  ASSERT_TRUE(DeriveGenericWorkerConfig(&state).ok());
  json expected = {
      {"accessToken", "token-for-tests"},
      {"availabilityZone", "us-east-1a"},
      {"cachesDir", "/var/cache/gw"},
      {"certificate", R"({"version":1})"},
      {"clientId", "worker/aws-prod/prov/wt/us-east-1/i-0abc123"},
      {"instanceID", "i-0abc123"},
      {"instanceType", "m5.large"},
      {"privateIP", "10.0.0.7"},
      {"provisionerId", "prov"},
      {"publicIP", "3.3.3.3"},
      {"region", "us-east-1"},
      {"rootURL", "https://tc.example.com"},
      {"workerGroup", "us-east-1"},
      {"workerId", "i-0abc123"},
      {"workerLocation", R"({"availabilityZone":"us-east-1a","cloud":"aws","region":"us-east-1"})"},
      {"workerType", "wt"},
      {"workerTypeMetadata",
       {{"availability-zone", "us-east-1a"},
        {"from-worker-pool", true},
        {"image", "ami-1"},
        {"instance-id", "i-0abc123"},
        {"instance-type", "m5.large"},
        {"local-ipv4", "10.0.0.7"},
        {"public-ipv4", "3.3.3.3"},
        {"region", "us-east-1"}}},
  };
  EXPECT_EQ(state.worker_config, expected) << state.worker_config.dump(2);
}

TEST(DeriveGenericWorkerConfigTest, EmptyMetadataAddsNoInstanceKeys) {
  providers::RunState state = FullState();
  state.provider_metadata = json::object();
  state.worker_config = json::object();
  state.credentials.certificate.clear();
  ASSERT_TRUE(DeriveGenericWorkerConfig(&state).ok());
  for (const char* key : {"publicIP", "privateIP", "instanceType", "instanceID", "region",
                          "availabilityZone", "certificate"}) {
    SCOPED_TRACE(key);
    EXPECT_FALSE(state.worker_config.contains(key));
  }
  EXPECT_EQ(state.worker_config["workerTypeMetadata"], json::object());
  EXPECT_EQ(state.worker_config["provisionerId"], "prov");
}

TEST(DeriveGenericWorkerConfigTest, KeepsAnExistingCertificateWhenCredentialsHaveNone) {
  providers::RunState state = FullState();
  state.credentials.certificate.clear();
  state.worker_config["certificate"] = "from-config";
  ASSERT_TRUE(DeriveGenericWorkerConfig(&state).ok());
  EXPECT_EQ(state.worker_config["certificate"], "from-config");
}

TEST(DeriveGenericWorkerConfigTest, PoolIdWithoutSlashIsRefused) {
  providers::RunState state = FullState();
  state.worker_pool_id = "no-slash";
  absl::Status status = DeriveGenericWorkerConfig(&state);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("workerPoolId"));
}

TEST(DeriveGenericWorkerConfigTest, SplitsPoolIdAtTheFirstSlashOnly) {
  providers::RunState state = FullState();
  state.worker_pool_id = "a/b/c";
  ASSERT_TRUE(DeriveGenericWorkerConfig(&state).ok());
  EXPECT_EQ(state.worker_config["provisionerId"], "a");
  EXPECT_EQ(state.worker_config["workerType"], "b/c");
}

TEST(GenericWorkerArgvTest, IsExactlyRunConfigWithWorkerRunner) {
  config::WorkerSettings settings;
  settings.path = "/usr/local/bin/generic-worker";
  settings.config_path = "/etc/generic-worker/config.json";
  EXPECT_THAT(GenericWorkerArgv(settings),
              ::testing::ElementsAre("/usr/local/bin/generic-worker", "run", "--config",
                                     "/etc/generic-worker/config.json", "--with-worker-runner"));
}

TEST(RenderGenericWorkerConfigTest, IsIndentedSortedJsonWithoutTrailingNewline) {
  json config = {{"b", 1}, {"a", {{"y", true}, {"x", "s"}}}};
  EXPECT_EQ(RenderGenericWorkerConfig(config),
            "{\n  \"a\": {\n    \"x\": \"s\",\n    \"y\": true\n  },\n  \"b\": 1\n}");
}

TEST(MakeWorkerImplTest, KnowsGenericWorkerAndDummyOnly) {
  config::WorkerSettings settings;
  settings.implementation = "dummy";
  EXPECT_TRUE(MakeWorkerImpl(settings).ok());
  settings.implementation = "generic-worker";
  settings.path = "/bin/true";
  EXPECT_TRUE(MakeWorkerImpl(settings).ok());
  settings.implementation = "docker-worker";
  EXPECT_EQ(MakeWorkerImpl(settings).status().code(), absl::StatusCode::kInvalidArgument);
  settings.implementation = "";
  EXPECT_EQ(MakeWorkerImpl(settings).status().message(), "no worker implementation given");
}

TEST(MakeWorkerImplTest, WindowsServiceModeIsNotBuilt) {
  config::WorkerSettings settings;
  settings.implementation = "generic-worker";
  settings.service = "Generic Worker";
  EXPECT_EQ(MakeWorkerImpl(settings).status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace runner::lifecycle

namespace runner::lifecycle {
namespace {

TEST(GenericWorkerCredentialsTest, RenewalRewritesTheConfigFileAndDropsAStaleCertificate) {
  char dir_template[] = "/tmp/gw-credentials-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/config.json";
  config::WorkerSettings settings;
  settings.implementation = "generic-worker";
  settings.path = "/bin/true";
  settings.config_path = path;
  GenericWorker worker(settings);

  providers::RunState state;
  state.worker_config = {
      {"clientId", "old"}, {"accessToken", "old"}, {"certificate", "{}"}, {"keep", 1}};
  state.credentials = {"worker/new", "new-token", "", {}};
  ASSERT_TRUE(worker.UpdateCredentials(&state).ok());
  nlohmann::json written;
  {
    std::ifstream in(path);
    in >> written;
  }
  EXPECT_EQ(written, nlohmann::json(
                         {{"clientId", "worker/new"}, {"accessToken", "new-token"}, {"keep", 1}}));
  struct stat info;
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  state.credentials.certificate = "{\"version\":1}";
  ASSERT_TRUE(worker.UseCachedRun(&state).ok());
  EXPECT_EQ(state.worker_config["certificate"], "{\"version\":1}");
  unlink(path.c_str());
  rmdir(dir_template);
}

}  // namespace
}  // namespace runner::lifecycle
