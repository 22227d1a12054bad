// Runs our worker-manager and secrets clients against the Node.js fake Taskcluster
// (tests/fakes/taskcluster), which checks every Hawk signature with @hapi/hawk.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "server/taskcluster/http_client.h"
#include "server/taskcluster/worker_manager.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner::taskcluster {
namespace {

using fakes::FakeTaskclusterProcess;
using ::testing::HasSubstr;

constexpr char kPermanentId[] = "project/proj-a/admin";
constexpr char kPermanentKey[] = "permanent-access-token-for-the-fake-000000";

WorkerIdentity Worker() { return {"proj-a/build", "us-east-1", "i-0abc123"}; }
Credentials Permanent() { return {kPermanentId, kPermanentKey, "", {}}; }

nlohmann::json Scenario() {
  return {
      {"clients", {{kPermanentId, kPermanentKey}}},
      {"secrets", {{"worker-pool:proj-a/build", {{"config", {{"fromSecret", true}}}}}}},
      {"forbiddenSecrets", {"worker-type:proj-a/build"}},
      {"workerConfig", {{"genericWorker", {{"config", {{"x", 10}}}}}}},
      {"credentialLifetimeSeconds", 7200},
  };
}

class FakeTaskclusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<FakeTaskclusterProcess>> fake =
        FakeTaskclusterProcess::Start(Scenario());
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);

    // Quick retries, so scripted 5xx answers cost milliseconds.
    HttpClientOptions options;
    options.attempt_timeout = absl::Seconds(20);
    options.backoff.initial_interval = absl::Milliseconds(10);
    options.backoff.max_interval = absl::Milliseconds(50);
    options.backoff.max_elapsed = absl::Seconds(10);
    absl::StatusOr<std::unique_ptr<HttpClient>> client =
        HttpClient::Create(fake_->root_url(), std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    manager_ = std::make_unique<WorkerManager>(client_.get());
    secrets_ = std::make_unique<SecretsClient>(client_.get());
  }

  absl::StatusOr<IssuedCredentials> Register() {
    return manager_->RegisterWorker(Worker(), "aws-prod", {{"document", "doc"}, {"signature", "s"}},
                                    SystemBootTime());
  }

  nlohmann::json LastRequest() {
    std::vector<nlohmann::json> requests = fake_->Requests();
    EXPECT_FALSE(requests.empty());
    return requests.empty() ? nlohmann::json() : requests.back();
  }

  std::unique_ptr<FakeTaskclusterProcess> fake_;
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<WorkerManager> manager_;
  std::unique_ptr<SecretsClient> secrets_;
};

TEST_F(FakeTaskclusterTest, RegisterWorkerIssuesTemporaryCredentials) {
  absl::Time before = absl::Now();
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->credentials.client_id, "worker/aws-prod/proj-a/build/us-east-1/i-0abc123");
  EXPECT_EQ(issued->credentials.access_token.size(), 44u);
  EXPECT_EQ(issued->secret.size(), 44u);
  EXPECT_TRUE(nlohmann::json::parse(issued->credentials.certificate).is_object());
  EXPECT_GE(issued->expires, before + absl::Seconds(7200) - absl::Seconds(1));
  EXPECT_EQ(issued->worker_config, Scenario()["workerConfig"]);

  nlohmann::json request = LastRequest();
  EXPECT_EQ(request["method"], "POST");
  EXPECT_EQ(request["path"], "/api/worker-manager/v1/worker/register");
  EXPECT_EQ(request["authorization"], false);
  EXPECT_EQ(request["body"]["workerPoolId"], "proj-a/build");
  EXPECT_EQ(request["body"]["workerIdentityProof"]["document"], "doc");
  ASSERT_TRUE(request["body"]["systemBootTime"].is_string());
  absl::StatusOr<absl::Time> boot =
      ParseTaskclusterTime(request["body"]["systemBootTime"].get<std::string>());
  ASSERT_TRUE(boot.ok());
  EXPECT_LT(*boot, absl::Now());
}

TEST_F(FakeTaskclusterTest, ReregisterWithTemporaryCredentialsIsVerified) {
  absl::StatusOr<IssuedCredentials> first = Register();
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<IssuedCredentials> second =
      manager_->ReregisterWorker(first->credentials, Worker(), first->secret);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->secret, first->secret);
  EXPECT_NE(second->credentials.access_token, first->credentials.access_token);
  EXPECT_TRUE(second->worker_config.is_null());

  nlohmann::json request = LastRequest();
  EXPECT_EQ(request["path"], "/api/worker-manager/v1/worker/reregister");
  EXPECT_EQ(request["hawkVerified"], true) << request.dump();
  EXPECT_EQ(request["certificateInExt"], true);
  EXPECT_EQ(request["hawkClientId"], first->credentials.client_id);

  // The new credentials work too, and the old secret is spent.
  absl::StatusOr<IssuedCredentials> third =
      manager_->ReregisterWorker(second->credentials, Worker(), first->secret);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LastRequest()["hawkVerified"], true);
}

TEST_F(FakeTaskclusterTest, ReregisterWithWrongSecretIsInvalidArgument) {
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();
  absl::StatusOr<IssuedCredentials> result =
      manager_->ReregisterWorker(issued->credentials, Worker(), "not-the-secret");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("Could not generate credentials"));
}

TEST_F(FakeTaskclusterTest, RemoveWorkerWithTemporaryCredentialsIsVerified) {
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();
  absl::Status removed = manager_->RemoveWorker(issued->credentials, Worker());
  ASSERT_TRUE(removed.ok()) << removed;

  nlohmann::json request = LastRequest();
  EXPECT_EQ(request["method"], "DELETE");
  EXPECT_EQ(request["path"], "/api/worker-manager/v1/workers/proj-a%2Fbuild/us-east-1/i-0abc123");
  EXPECT_TRUE(request["body"].is_null());
  EXPECT_EQ(request["hawkVerified"], true) << request.dump();
  EXPECT_EQ(request["certificateInExt"], true);
}

TEST_F(FakeTaskclusterTest, ReportWorkerErrorWithTemporaryCredentialsIsVerified) {
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();
  WorkerErrorReport report{"disk-full", "Disk full", "no space left", {{"free", 0}}};
  absl::Status reported = manager_->ReportWorkerError(issued->credentials, Worker(), report);
  ASSERT_TRUE(reported.ok()) << reported;

  nlohmann::json request = LastRequest();
  EXPECT_EQ(request["path"], "/api/worker-manager/v1/worker-pool-errors/proj-a%2Fbuild");
  EXPECT_EQ(request["hawkVerified"], true) << request.dump();
  EXPECT_EQ(request["body"]["kind"], "disk-full");
  EXPECT_EQ(request["body"]["workerId"], "i-0abc123");
  EXPECT_EQ(request["body"]["extra"], nlohmann::json({{"free", 0}}));
}

TEST_F(FakeTaskclusterTest, SecretsWithPermanentCredentials) {
  absl::StatusOr<nlohmann::json> present =
      secrets_->GetSecret(Permanent(), "worker-pool:proj-a/build");
  ASSERT_TRUE(present.ok()) << present.status();
  EXPECT_EQ(*present, nlohmann::json({{"config", {{"fromSecret", true}}}}));
  nlohmann::json request = LastRequest();
  EXPECT_EQ(request["path"], "/api/secrets/v1/secret/worker-pool:proj-a%2Fbuild");
  EXPECT_EQ(request["hawkVerified"], true) << request.dump();
  EXPECT_EQ(request["certificateInExt"], false);

  EXPECT_EQ(secrets_->GetSecret(Permanent(), "worker-pool:other").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(secrets_->GetSecret(Permanent(), "worker-type:proj-a/build").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(FakeTaskclusterTest, RegisterRetriesScriptedServerError) {
  nlohmann::json scenario = Scenario();
  scenario["responses"]["registerWorker"] = {
      {{"status", 503}, {"body", {{"code", "ProviderSetupFailed"}, {"message", "later"}}}},
      {{"default", true}},
  };
  ASSERT_TRUE(fake_->SetScenario(scenario).ok());
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();

  std::vector<nlohmann::json> requests = fake_->Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["body"], requests[1]["body"]);

  // The issued credentials are known to the fake, as after an unscripted registration.
  EXPECT_TRUE(manager_->RemoveWorker(issued->credentials, Worker()).ok());
}

TEST_F(FakeTaskclusterTest, ScriptRepeatsLastEntryAndStartsOverWhenReplaced) {
  nlohmann::json scenario = Scenario();
  scenario["responses"]["getSecret"] = {
      {{"status", 410}, {"body", {{"code", "ResourceExpired"}, {"message", "gone"}}}},
      {{"status", 200}, {"body", {{"secret", "scripted"}}}},
  };
  ASSERT_TRUE(fake_->SetScenario(scenario).ok());
  const std::string name = "worker-pool:proj-a/build";
  EXPECT_EQ(secrets_->GetSecret(Permanent(), name).status().code(),
            absl::StatusCode::kFailedPrecondition);
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<nlohmann::json> secret = secrets_->GetSecret(Permanent(), name);
    ASSERT_TRUE(secret.ok()) << secret.status();
    EXPECT_EQ(*secret, "scripted");
  }

  scenario["responses"]["getSecret"] = {{{"status", 502}, {"rawBody", "<html>bad gateway"}}};
  scenario["responses"]["getSecret"].push_back({{"default", true}});
  ASSERT_TRUE(fake_->SetScenario(scenario).ok());
  absl::StatusOr<nlohmann::json> secret = secrets_->GetSecret(Permanent(), name);
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(*secret, nlohmann::json({{"config", {{"fromSecret", true}}}}));
  EXPECT_EQ(fake_->Requests().size(), 5u);
}

TEST_F(FakeTaskclusterTest, WrongKeyIsUnauthenticated) {
  Credentials credentials = Permanent();
  credentials.access_token = "a-different-access-token-of-similar-length";
  absl::StatusOr<nlohmann::json> result =
      secrets_->GetSecret(credentials, "worker-pool:proj-a/build");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);

  nlohmann::json request = LastRequest();
  EXPECT_EQ(request["hawkVerified"], false);
  EXPECT_EQ(request["hawkClientId"], kPermanentId);
  EXPECT_THAT(request["hawkError"].get<std::string>(), HasSubstr("Bad mac"));
}

TEST_F(FakeTaskclusterTest, TemporaryCredentialsWithoutCertificateAreRejected) {
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();
  Credentials stripped = issued->credentials;
  stripped.certificate.clear();
  EXPECT_EQ(manager_->RemoveWorker(stripped, Worker()).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(LastRequest()["certificateInExt"], false);
}

TEST_F(FakeTaskclusterTest, AuthenticatedRegisterIsRefused) {
  // registerWorker never carries credentials; the fake refuses one that does.
  Credentials credentials = Permanent();
  absl::StatusOr<nlohmann::json> result = client_->Call(
      {"POST", "worker-manager", "worker/register", nlohmann::json::object(), &credentials});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LastRequest()["authorization"], true);
}

TEST_F(FakeTaskclusterTest, UnknownPathIsNotFound) {
  absl::StatusOr<nlohmann::json> result =
      client_->Call({"GET", "worker-manager", "no/such/thing", std::nullopt, nullptr});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace runner::taskcluster
