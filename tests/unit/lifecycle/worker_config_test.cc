#include "server/lifecycle/worker_config.h"

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "server/common/logger.h"
#include "server/taskcluster/http_client.h"
#include "tests/fakes/http/fake_http_server.h"
#include "tests/fakes/log_capture.h"

namespace runner::lifecycle {
namespace {

using ::nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(CamelCaseImplementationTest, UpperCasesLowerCaseLetterAfterDash) {
  const std::pair<const char*, const char*> cases[] = {
      {"generic-worker", "genericWorker"},
      {"docker-worker", "dockerWorker"},
      {"test-worker", "testWorker"},
      {"dummy", "dummy"},
      {"", ""},
      {"a-b-c", "aBC"},
      {"x-", "x-"},
      {"-x", "X"},
      {"a--b", "a-B"},
      {"a-B", "a-B"},
      {"a-1", "a-1"},
      {"already-camelCase", "alreadyCamelCase"},
  };
  for (const auto& [input, want] : cases) {
    SCOPED_TRACE(input);
    EXPECT_EQ(CamelCaseImplementation(input), want);
  }
}

// A run whose runner file already contributed configuration and the provider one file.
providers::RunState StateWithRunnerConfig() {
  providers::RunState state;
  state.worker_pool_id = "proj/pool";
  state.worker_config = {{"from-runner", true}, {"from-secret", false}, {"list", {"runner"}}};
  state.files = json::array({{{"description", "provider file"}}});
  return state;
}

TEST(ApplyPoolWorkerConfigTest, StructuredFormMergesConfigAndAppendsFiles) {
  providers::RunState state = StateWithRunnerConfig();
  json pool = {{"testWorker",
                {{"config", {{"from-register-worker", true}, {"list", {"pool"}}}},
                 {"files", {{{"description", "a file."}}}},
                 {"ignored", 1}}}};

  ASSERT_TRUE(ApplyPoolWorkerConfig(pool, "test-worker", &state).ok());

  EXPECT_EQ(state.worker_config, json({{"from-runner", true},
                                       {"from-secret", false},
                                       {"from-register-worker", true},
                                       {"list", {"runner", "pool"}}}));
  EXPECT_EQ(state.files,
            json::array({{{"description", "provider file"}}, {{"description", "a file."}}}));
}

TEST(ApplyPoolWorkerConfigTest, StructuredFormWithoutConfigOrFilesChangesNothing) {
  for (const json& body : {json::object(), json(nullptr), json({{"config", nullptr}})}) {
    SCOPED_TRACE(body.dump());
    providers::RunState state = StateWithRunnerConfig();
    providers::RunState before = state;
    ASSERT_TRUE(ApplyPoolWorkerConfig({{"genericWorker", body}}, "generic-worker", &state).ok());
    EXPECT_EQ(state.worker_config, before.worker_config);
    EXPECT_EQ(state.files, before.files);
  }
}

TEST(ApplyPoolWorkerConfigTest, FlatFormIsMergedWholeWithoutFiles) {
  providers::RunState state = StateWithRunnerConfig();
  json pool = {{"x", 10}, {"files", {{{"description", "not a file list here"}}}}};

  ASSERT_TRUE(ApplyPoolWorkerConfig(pool, "test-worker", &state).ok());

  EXPECT_EQ(state.worker_config["x"], 10);
  EXPECT_EQ(state.worker_config["files"], pool["files"]);
  EXPECT_EQ(state.worker_config["from-runner"], true);
  EXPECT_EQ(state.files.size(), 1u);
}

TEST(ApplyPoolWorkerConfigTest, ImplementationMemberBesideOthersIsFlat) {
  providers::RunState state = StateWithRunnerConfig();
  json pool = {{"genericWorker", {{"config", {{"a", 1}}}}}, {"other", 2}};

  ASSERT_TRUE(ApplyPoolWorkerConfig(pool, "generic-worker", &state).ok());

  EXPECT_EQ(state.worker_config["genericWorker"], pool["genericWorker"]);
  EXPECT_EQ(state.worker_config["other"], 2);
  EXPECT_FALSE(state.worker_config.contains("a"));
}

TEST(ApplyPoolWorkerConfigTest, MemberNamedForAnotherImplementationIsAFlatKey) {
  providers::RunState state = StateWithRunnerConfig();
  json pool = {{"genericWorker", {{"config", {{"a", 1}}}, {"files", json::array()}}}};

  ASSERT_TRUE(ApplyPoolWorkerConfig(pool, "dummy", &state).ok());

  EXPECT_EQ(state.worker_config["genericWorker"], pool["genericWorker"]);
  EXPECT_FALSE(state.worker_config.contains("a"));
  EXPECT_EQ(state.files.size(), 1u);
}

TEST(ApplyPoolWorkerConfigTest, NullOrAbsentDoesNothing) {
  providers::RunState state = StateWithRunnerConfig();
  providers::RunState before = state;
  ASSERT_TRUE(ApplyPoolWorkerConfig(json(), "generic-worker", &state).ok());
  EXPECT_EQ(state.worker_config, before.worker_config);
  EXPECT_EQ(state.files, before.files);
}

TEST(ApplyPoolWorkerConfigTest, NonObjectIsInvalidArgument) {
  for (const json& value : {json("{\"x\":1}"), json(5), json(true), json::array({1})}) {
    SCOPED_TRACE(value.dump());
    providers::RunState state = StateWithRunnerConfig();
    providers::RunState before = state;
    absl::Status status = ApplyPoolWorkerConfig(value, "generic-worker", &state);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(state.worker_config, before.worker_config);
  }
}

// Decision pinned here: in the structured form a `config` that is not an object (or a `files`
// that is not an array, or a body that is not an object) is refused like a non-object
// workerConfig, rather than replacing the whole configuration with a scalar.
TEST(ApplyPoolWorkerConfigTest, StructuredFormWithWrongTypesIsInvalidArgument) {
  const json bodies[] = {
      {{"config", "text"}},
      {{"config", json::array({1})}},
      {{"files", {{"path", "/x"}}}},
      json(7),
  };
  for (const json& body : bodies) {
    SCOPED_TRACE(body.dump());
    providers::RunState state = StateWithRunnerConfig();
    providers::RunState before = state;
    absl::Status status =
        ApplyPoolWorkerConfig({{"genericWorker", body}}, "generic-worker", &state);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("genericWorker"));
    EXPECT_EQ(state.worker_config, before.worker_config);
    EXPECT_EQ(state.files, before.files);
  }
}

TEST(ApplySecretTest, StructuredConfigIsMerged) {
  providers::RunState state = StateWithRunnerConfig();
  ASSERT_TRUE(
      ApplySecret({{"config", {{"from-secret", true}}}}, "worker-pool:proj/pool", &state).ok());
  EXPECT_EQ(state.worker_config["from-secret"], true);
  EXPECT_EQ(state.worker_config["from-runner"], true);
  EXPECT_FALSE(state.worker_config.contains("config"));
}

TEST(ApplySecretTest, StructuredFilesAreAppendedAfterProviderFiles) {
  providers::RunState state = StateWithRunnerConfig();
  json file = {{"description", "secret file"},
               {"path", "/etc/x"},
               {"format", "file"},
               {"encoding", "base64"},
               {"content", "eA=="}};
  ASSERT_TRUE(ApplySecret({{"files", {file}}}, "worker-pool:proj/pool", &state).ok());
  ASSERT_EQ(state.files.size(), 2u);
  EXPECT_EQ(state.files[0]["description"], "provider file");
  EXPECT_EQ(state.files[1], file);
  EXPECT_FALSE(state.worker_config.contains("files"));
}

TEST(ApplySecretTest, LegacyFormIsMergedWhole) {
  const json secrets[] = {
      {{"from-secret", true}},
      {{"config", {{"a", 1}}}, {"extra", 2}},  // a member besides config/files
      {{"files", {5}}},                        // an element that is not a file entry
      {{"files", {{{"path", 5}}}}},            // a file field that is not a string
  };
  for (const json& secret : secrets) {
    SCOPED_TRACE(secret.dump());
    providers::RunState state = StateWithRunnerConfig();
    ASSERT_TRUE(ApplySecret(secret, "worker-pool:proj/pool", &state).ok());
    for (const auto& [key, value] : secret.items()) EXPECT_EQ(state.worker_config[key], value);
    EXPECT_EQ(state.worker_config["from-runner"], true);
    EXPECT_EQ(state.files.size(), 1u);
  }
}

// A secret holding only `config`/`files` is meant to be structured: wrong types there are refused
// instead of being merged as a stray `config` key that generic-worker would reject.
TEST(ApplySecretTest, StructuredLookingSecretWithWrongTypesIsRefused) {
  const std::pair<json, const char*> cases[] = {
      {{{"config", "text"}}, "config is not a JSON object"},
      {{{"config", {1, 2}}}, "config is not a JSON object"},
      {{{"files", "text"}}, "files is not a JSON array"},
      {{{"config", json::object()}, {"files", 5}}, "files is not a JSON array"},
  };
  for (const auto& [secret, expected] : cases) {
    SCOPED_TRACE(secret.dump());
    providers::RunState state = StateWithRunnerConfig();
    absl::Status status = ApplySecret(secret, "worker-pool:proj/pool", &state);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(expected));
    EXPECT_THAT(std::string(status.message()), HasSubstr("worker-pool:proj/pool"));
  }
}

TEST(ApplySecretTest, LegacyFallbackIsLoggedWithNameButNotValues) {
  test_support::LogCapture log;
  providers::RunState state = StateWithRunnerConfig();
  absl::Status status =
      ApplySecret({{"livelogSecret", "value-that-must-not-leak"}}, "worker-pool:proj/pool", &state);

  ASSERT_TRUE(status.ok());
  std::string all = absl::StrJoin(log.lines(), "\n");
  EXPECT_THAT(all, HasSubstr("worker-pool:proj/pool"));
  EXPECT_THAT(all, Not(HasSubstr("value-that-must-not-leak")));
  EXPECT_THAT(all, Not(HasSubstr("livelogSecret")));
}

TEST(ApplySecretTest, NonObjectIsInvalidArgumentNamingTheSecret) {
  for (const json& value : {json("text"), json(1), json(nullptr), json::array()}) {
    SCOPED_TRACE(value.dump());
    providers::RunState state = StateWithRunnerConfig();
    absl::Status status = ApplySecret(value, "worker-type:proj/pool", &state);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("worker-type:proj/pool"));
    EXPECT_THAT(status.message(), HasSubstr("not a JSON object"));
  }
}

std::string PercentDecode(absl::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    int value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        absl::SimpleHexAtoi(text.substr(i + 1, 2), &value)) {
      out.push_back(static_cast<char>(value));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

// A secrets service on loopback: names map to (HTTP status, secret value).
class LoadSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    taskcluster::HttpClientOptions options;
    options.backoff.max_elapsed = absl::ZeroDuration();
    auto client = taskcluster::HttpClient::Create(server_.url(), options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    secrets_ = std::make_unique<taskcluster::SecretsClient>(client_.get());

    state_ = StateWithRunnerConfig();
    state_.root_url = server_.url();
    state_.credentials.client_id = "worker/proj/pool";
    state_.credentials.access_token = "access-token-for-test";
  }
  void TearDown() override { server_.Stop(); }

  void SetSecret(const std::string& name, int status, json value = nullptr) {
    absl::MutexLock lock(&mu_);
    secrets_by_name_[name] = {status, std::move(value)};
  }

  // Names requested, in order.
  std::vector<std::string> RequestedNames() const {
    std::vector<std::string> names;
    for (const fakes::HttpRequest& request : server_.requests()) {
      names.push_back(PercentDecode(request.target).substr(kPrefix.size()));
    }
    return names;
  }

  fakes::HttpResponse Serve(const fakes::HttpRequest& request) {
    std::string target = PercentDecode(request.target);
    fakes::HttpResponse response;
    response.headers = {{"Content-Type", "application/json"}};
    if (request.method != "GET" || !absl::StartsWith(target, kPrefix)) {
      response.status = 400;
      response.body = "{}";
      return response;
    }
    absl::MutexLock lock(&mu_);
    auto found = secrets_by_name_.find(target.substr(kPrefix.size()));
    if (found == secrets_by_name_.end()) {
      response.status = 404;
      response.body = R"({"code":"ResourceNotFound","message":"no such secret"})";
    } else if (found->second.first != 200) {
      response.status = found->second.first;
      response.body = R"({"code":"Refused","message":"refused"})";
    } else {
      response.body =
          json({{"secret", found->second.second}, {"expires", "3000-01-01T00:00:00.000Z"}}).dump();
    }
    return response;
  }

  static inline const std::string kPrefix = "/api/secrets/v1/secret/";

  absl::Mutex mu_;
  std::map<std::string, std::pair<int, json>> secrets_by_name_ ABSL_GUARDED_BY(mu_);
  fakes::FakeHttpServer server_{[this](const fakes::HttpRequest& r) { return Serve(r); }};
  std::unique_ptr<taskcluster::HttpClient> client_;
  std::unique_ptr<taskcluster::SecretsClient> secrets_;
  providers::RunState state_;
};

TEST_F(LoadSecretsTest, LegacyWorkerPoolSecretIsMergedAndRunnerValuesKept) {
  SetSecret("worker-pool:proj/pool", 200, {{"from-secret", true}});
  ASSERT_TRUE(LoadSecrets(secrets_.get(), &state_).ok());
  EXPECT_EQ(state_.worker_config["from-secret"], true);
  EXPECT_EQ(state_.worker_config["from-runner"], true);
  EXPECT_EQ(RequestedNames(),
            std::vector<std::string>({"worker-type:proj/pool", "worker-pool:proj/pool"}));
}

TEST_F(LoadSecretsTest, InaccessibleWorkerTypeSecretIsIgnored) {
  SetSecret("worker-type:proj/pool", 403);
  ASSERT_TRUE(LoadSecrets(secrets_.get(), &state_).ok());
  EXPECT_EQ(state_.worker_config["from-secret"], false);
  EXPECT_EQ(state_.worker_config["from-runner"], true);
}

TEST_F(LoadSecretsTest, StructuredWorkerTypeSecretIsMerged) {
  SetSecret("worker-type:proj/pool", 200, {{"config", {{"from-secret", true}}}});
  ASSERT_TRUE(LoadSecrets(secrets_.get(), &state_).ok());
  EXPECT_EQ(state_.worker_config["from-secret"], true);
  EXPECT_FALSE(state_.worker_config.contains("config"));
}

TEST_F(LoadSecretsTest, StructuredWorkerPoolSecretIsMerged) {
  SetSecret("worker-pool:proj/pool", 200, {{"config", {{"from-secret", true}}}});
  ASSERT_TRUE(LoadSecrets(secrets_.get(), &state_).ok());
  EXPECT_EQ(state_.worker_config["from-secret"], true);
  EXPECT_FALSE(state_.worker_config.contains("config"));
}

TEST_F(LoadSecretsTest, WorkerPoolSecretIsAppliedOverWorkerTypeSecret) {
  SetSecret("worker-type:proj/pool", 200,
            {{"config", {{"winner", "type"}, {"list", {"type"}}}}, {"files", {{{"path", "/t"}}}}});
  SetSecret("worker-pool:proj/pool", 200,
            {{"config", {{"winner", "pool"}, {"list", {"pool"}}}}, {"files", {{{"path", "/p"}}}}});
  ASSERT_TRUE(LoadSecrets(secrets_.get(), &state_).ok());
  EXPECT_EQ(state_.worker_config["winner"], "pool");
  EXPECT_EQ(state_.worker_config["list"], json({"runner", "type", "pool"}));
  ASSERT_EQ(state_.files.size(), 3u);
  EXPECT_EQ(state_.files[1]["path"], "/t");
  EXPECT_EQ(state_.files[2]["path"], "/p");
}

TEST_F(LoadSecretsTest, NoSecretsAtAllSucceedsAndKeepsRunnerValues) {
  test_support::LogCapture log;
  absl::Status status = LoadSecrets(secrets_.get(), &state_);

  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(state_.worker_config, StateWithRunnerConfig().worker_config);
  EXPECT_THAT(absl::StrJoin(log.lines(), "\n"), HasSubstr("WARNING"));
  EXPECT_THAT(absl::StrJoin(log.lines(), "\n"), HasSubstr("proj/pool"));
}

TEST_F(LoadSecretsTest, ForbiddenWorkerPoolSecretIsAnErrorNamingIt) {
  SetSecret("worker-pool:proj/pool", 403);
  absl::Status status = LoadSecrets(secrets_.get(), &state_);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("worker-pool:proj/pool"));
}

TEST_F(LoadSecretsTest, OtherErrorOnWorkerTypeSecretStopsBeforeWorkerPool) {
  SetSecret("worker-type:proj/pool", 401);
  SetSecret("worker-pool:proj/pool", 200, {{"from-secret", true}});
  absl::Status status = LoadSecrets(secrets_.get(), &state_);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("worker-type:proj/pool"));
  EXPECT_EQ(state_.worker_config["from-secret"], false);
  EXPECT_EQ(RequestedNames(), std::vector<std::string>({"worker-type:proj/pool"}));
}

TEST_F(LoadSecretsTest, SecretThatIsNotAnObjectIsInvalidArgument) {
  SetSecret("worker-pool:proj/pool", 200, "just text");
  absl::Status status = LoadSecrets(secrets_.get(), &state_);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("worker-pool:proj/pool"));
}

}  // namespace
}  // namespace runner::lifecycle
