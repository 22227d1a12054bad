#include "server/taskcluster/worker_manager.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "server/common/logger.h"
#include "tests/fakes/http/fake_http_server.h"
#include "tests/unit/taskcluster/test_support.h"

namespace runner::taskcluster {
namespace {

using fakes::FakeHttpServer;
using fakes::HttpRequest;
using fakes::HttpResponse;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCertificate[] =
    R"({"version":1,"scopes":["assume:worker-pool:proj-a/build"],"start":1700000000000,)"
    R"("expiry":1700345600000,"seed":"c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQx",)"
    R"("signature":"bm90LWEtcmVhbC1zaWduYXR1cmUtZm9yLWRvY3Mtb25seQ=="})";
constexpr char kIssuedToken[] = "IssuedAccessTokenIssuedAccessTokenIssued000";
constexpr char kIssuedSecret[] = "IssuedSecretIssuedSecretIssuedSecretIssue00";

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump();
  response.headers = {{"Content-Type", "application/json"}};
  return response;
}

// A well-formed registerWorker answer.
nlohmann::json IssuedResponse() {
  return {
      {"expires", "2026-05-04T10:11:12.000Z"},
      {"credentials",
       {{"clientId", "worker/aws-prod/proj-a/build/us-east-1/i-0abc123"},
        {"accessToken", kIssuedToken},
        {"certificate", kCertificate}}},
      {"workerConfig", {{"genericWorker", {{"config", {{"x", 1}}}}}}},
      {"secret", kIssuedSecret},
  };
}

WorkerIdentity Worker() { return {"proj-a/build", "us-east-1", "i-0abc123"}; }

Credentials Permanent() { return {"my-client", "permanent-access-token-example", "", {}}; }

class WorkerManagerTest : public ::testing::Test {
 protected:
  WorkerManagerTest()
      : clock_(absl::Now()),
        random_(0.5),
        sleeper_(&clock_),
        server_([](const HttpRequest&) { return Json(200, IssuedResponse()); }) {}

  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    HttpClientOptions options;
    options.clock = &clock_;
    options.random = &random_;
    options.sleeper = &sleeper_;
    options.attempt_timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<HttpClient>> client =
        HttpClient::Create(server_.url(), std::move(options));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    manager_ = std::make_unique<WorkerManager>(client_.get());
    secrets_ = std::make_unique<SecretsClient>(client_.get());
  }

  void TearDown() override { server_.Stop(); }

  void Answer(int status, nlohmann::json body) {
    server_.SetHandler([=](const HttpRequest&) { return Json(status, body); });
  }

  // The only request the server saw.
  HttpRequest OnlyRequest() {
    std::vector<HttpRequest> requests = server_.requests();
    EXPECT_EQ(requests.size(), 1u);
    return requests.empty() ? HttpRequest{} : requests.back();
  }

  absl::StatusOr<IssuedCredentials> Register() {
    return manager_->RegisterWorker(Worker(), "aws-prod", {{"document", "doc"}}, std::nullopt);
  }

  ManualClock clock_;
  FixedRandom random_;
  ClockSleeper sleeper_;
  FakeHttpServer server_;
  std::unique_ptr<HttpClient> client_;
  std::unique_ptr<WorkerManager> manager_;
  std::unique_ptr<SecretsClient> secrets_;
};

TEST_F(WorkerManagerTest, RegisterWorkerSendsUnauthenticatedRequest) {
  nlohmann::json proof = {{"document", "{\"instanceId\":\"i-0abc123\"}"}, {"signature", "c2ln"}};
  absl::Time boot = absl::FromUnixSeconds(1777888800) + absl::Milliseconds(750);
  absl::StatusOr<IssuedCredentials> issued =
      manager_->RegisterWorker(Worker(), "aws-prod", proof, boot);
  ASSERT_TRUE(issued.ok()) << issued.status();

  HttpRequest request = OnlyRequest();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/worker-manager/v1/worker/register");
  EXPECT_EQ(request.FindHeader("authorization"), nullptr);
  nlohmann::json expected = {
      {"workerPoolId", "proj-a/build"}, {"providerId", "aws-prod"},
      {"workerGroup", "us-east-1"},     {"workerId", "i-0abc123"},
      {"workerIdentityProof", proof},   {"systemBootTime", "2026-05-04T10:00:00.000Z"},
  };
  EXPECT_EQ(nlohmann::json::parse(request.body), expected);
}

TEST_F(WorkerManagerTest, RegisterWorkerLeavesOutUnknownBootTime) {
  ASSERT_TRUE(Register().ok());
  nlohmann::json body = nlohmann::json::parse(OnlyRequest().body);
  EXPECT_FALSE(body.contains("systemBootTime"));
  EXPECT_EQ(body["workerIdentityProof"], nlohmann::json({{"document", "doc"}}));
}

TEST_F(WorkerManagerTest, RegisterWorkerReturnsIssuedCredentials) {
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->credentials.client_id, "worker/aws-prod/proj-a/build/us-east-1/i-0abc123");
  EXPECT_EQ(issued->credentials.access_token, kIssuedToken);
  EXPECT_EQ(issued->credentials.certificate, kCertificate);
  EXPECT_EQ(issued->expires, absl::FromUnixSeconds(1777889472));
  EXPECT_EQ(issued->secret, kIssuedSecret);
  EXPECT_EQ(issued->worker_config, IssuedResponse()["workerConfig"]);
}

TEST_F(WorkerManagerTest, RegisterWorkerAcceptsResponseWithoutCertificateOrConfig) {
  nlohmann::json response = IssuedResponse();
  response["credentials"].erase("certificate");
  response.erase("workerConfig");
  response["expires"] = "2026-05-04T12:11:12+02:00";
  Answer(200, response);
  absl::StatusOr<IssuedCredentials> issued = Register();
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->credentials.certificate, "");
  EXPECT_TRUE(issued->worker_config.is_null());
  EXPECT_EQ(issued->expires, absl::FromUnixSeconds(1777889472));
}

TEST_F(WorkerManagerTest, RegisterWorkerRejectsIncompleteResponses) {
  struct Case {
    const char* name;
    void (*mutate)(nlohmann::json*);
    const char* message;
  };
  const Case cases[] = {
      {"no credentials", [](nlohmann::json* r) { r->erase("credentials"); },
       "registerWorker response: missing credentials"},
      {"credentials not an object", [](nlohmann::json* r) { (*r)["credentials"] = "x"; },
       "registerWorker response: missing credentials"},
      {"no clientId", [](nlohmann::json* r) { (*r)["credentials"].erase("clientId"); },
       "registerWorker response: missing credentials.clientId"},
      {"clientId a number", [](nlohmann::json* r) { (*r)["credentials"]["clientId"] = 7; },
       "registerWorker response: missing credentials.clientId"},
      {"no accessToken", [](nlohmann::json* r) { (*r)["credentials"].erase("accessToken"); },
       "registerWorker response: missing credentials.accessToken"},
      {"no expires", [](nlohmann::json* r) { r->erase("expires"); },
       "registerWorker response: missing expires"},
      {"expires a number", [](nlohmann::json* r) { (*r)["expires"] = 1777889472; },
       "registerWorker response: missing expires"},
      {"expires unparsable", [](nlohmann::json* r) { (*r)["expires"] = "next tuesday"; },
       "registerWorker response: missing expires"},
      {"no secret", [](nlohmann::json* r) { r->erase("secret"); },
       "registerWorker response: missing secret"},
      {"secret null", [](nlohmann::json* r) { (*r)["secret"] = nullptr; },
       "registerWorker response: missing secret"},
      {"certificate not JSON", [](nlohmann::json* r) { (*r)["credentials"]["certificate"] = "{"; },
       "registerWorker response: certificate is not a JSON object"},
      {"certificate an array",
       [](nlohmann::json* r) { (*r)["credentials"]["certificate"] = "[1]"; },
       "registerWorker response: certificate is not a JSON object"},
      {"body not an object", [](nlohmann::json* r) { *r = nlohmann::json::array(); },
       "registerWorker response: missing credentials"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    nlohmann::json response = IssuedResponse();
    c.mutate(&response);
    Answer(200, response);
    absl::StatusOr<IssuedCredentials> issued = Register();
    EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(issued.status().message(), HasSubstr(c.message));
    EXPECT_THAT(issued.status().message(), Not(HasSubstr(kIssuedToken)));
    EXPECT_THAT(issued.status().message(), Not(HasSubstr(kIssuedSecret)));
  }
}

TEST_F(WorkerManagerTest, RegisterWorkerErrorKeepsCodeAndAddsContext) {
  Answer(400, {{"code", "InputError"}, {"message", "proof rejected"}});
  absl::StatusOr<IssuedCredentials> issued = Register();
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(issued.status().message(), "registerWorker: ")) << issued.status();
}

TEST_F(WorkerManagerTest, IssuedSecretsAreRedactedFromLogs) {
  auto sink = std::make_unique<common::MemoryLogSink>();
  common::MemoryLogSink* log = sink.get();
  std::unique_ptr<common::LogSink> previous = common::Logger::Default().SetSink(std::move(sink));

  ASSERT_TRUE(Register().ok());
  common::LogInfo("test", "leak attempt", {{"token", kIssuedToken}, {"secret", kIssuedSecret}});
  std::vector<std::string> lines = log->lines();
  common::Logger::Default().SetSink(std::move(previous));

  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], Not(HasSubstr(kIssuedToken)));
  EXPECT_THAT(lines[0], Not(HasSubstr(kIssuedSecret)));
}

TEST_F(WorkerManagerTest, ReregisterWorkerSignsWithCurrentCredentials) {
  nlohmann::json response = IssuedResponse();
  response.erase("workerConfig");
  Answer(200, response);
  Credentials current = Permanent();
  absl::StatusOr<IssuedCredentials> issued =
      manager_->ReregisterWorker(current, Worker(), "old-secret");
  ASSERT_TRUE(issued.ok()) << issued.status();
  EXPECT_EQ(issued->secret, kIssuedSecret);
  EXPECT_TRUE(issued->worker_config.is_null());

  HttpRequest request = OnlyRequest();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/worker-manager/v1/worker/reregister");
  const std::string* authorization = request.FindHeader("authorization");
  ASSERT_NE(authorization, nullptr);
  EXPECT_THAT(*authorization, HasSubstr("id=\"my-client\""));
  nlohmann::json expected = {{"workerPoolId", "proj-a/build"},
                             {"workerGroup", "us-east-1"},
                             {"workerId", "i-0abc123"},
                             {"secret", "old-secret"}};
  EXPECT_EQ(nlohmann::json::parse(request.body), expected);
}

TEST_F(WorkerManagerTest, ReregisterWorkerRejectsIncompleteResponse) {
  nlohmann::json response = IssuedResponse();
  response.erase("secret");
  Answer(200, response);
  absl::StatusOr<IssuedCredentials> issued =
      manager_->ReregisterWorker(Permanent(), Worker(), "old-secret");
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(issued.status().message(), "reregisterWorker response: missing secret");
}

TEST_F(WorkerManagerTest, ReregisterWorkerErrorAddsContext) {
  Answer(400, {{"code", "InputError"}, {"message", "Could not generate credentials"}});
  absl::StatusOr<IssuedCredentials> issued =
      manager_->ReregisterWorker(Permanent(), Worker(), "old-secret");
  EXPECT_EQ(issued.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(issued.status().message(), "reregisterWorker: ")) << issued.status();
}

TEST_F(WorkerManagerTest, RemoveWorkerDeletesEscapedPathWithoutBody) {
  Answer(200, nlohmann::json::object());
  ASSERT_TRUE(manager_->RemoveWorker(Permanent(), Worker()).ok());
  HttpRequest request = OnlyRequest();
  EXPECT_EQ(request.method, "DELETE");
  EXPECT_EQ(request.target, "/api/worker-manager/v1/workers/proj-a%2Fbuild/us-east-1/i-0abc123");
  EXPECT_EQ(request.body, "");
  EXPECT_EQ(request.FindHeader("content-type"), nullptr);
  EXPECT_NE(request.FindHeader("authorization"), nullptr);
}

TEST_F(WorkerManagerTest, RemoveWorkerEscapesEverySegment) {
  Answer(200, nlohmann::json::object());
  WorkerIdentity worker = {"a/b", "g h", "i;d?"};
  ASSERT_TRUE(manager_->RemoveWorker(Permanent(), worker).ok());
  EXPECT_EQ(OnlyRequest().target, "/api/worker-manager/v1/workers/a%2Fb/g%20h/i%3Bd%3F");
}

TEST_F(WorkerManagerTest, RemoveWorkerErrorKeepsCode) {
  Answer(403, {{"code", "InsufficientScopes"}, {"message", "no"}});
  absl::Status status = manager_->RemoveWorker(Permanent(), Worker());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(status.message(), "removeWorker: ")) << status;
}

TEST_F(WorkerManagerTest, ReportWorkerErrorPostsReportWithWorkerIds) {
  WorkerErrorReport report;
  report.kind = "worker-error";
  report.title = "Disk full";
  report.description = "no space left on /";
  report.extra = {{"free", 0}, {"mount", "/"}};
  ASSERT_TRUE(manager_->ReportWorkerError(Permanent(), Worker(), report).ok());

  HttpRequest request = OnlyRequest();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/worker-manager/v1/worker-pool-errors/proj-a%2Fbuild");
  EXPECT_NE(request.FindHeader("authorization"), nullptr);
  nlohmann::json expected = {
      {"workerGroup", "us-east-1"},
      {"workerId", "i-0abc123"},
      {"kind", "worker-error"},
      {"title", "Disk full"},
      {"description", "no space left on /"},
      {"extra", {{"free", 0}, {"mount", "/"}}},
  };
  EXPECT_EQ(nlohmann::json::parse(request.body), expected);
}

TEST_F(WorkerManagerTest, ReportWorkerErrorSendsEmptyExtraAsObject) {
  ASSERT_TRUE(manager_->ReportWorkerError(Permanent(), Worker(), WorkerErrorReport{}).ok());
  EXPECT_EQ(nlohmann::json::parse(OnlyRequest().body)["extra"], nlohmann::json::object());
}

TEST_F(WorkerManagerTest, GetSecretReturnsSecretMember) {
  Answer(200, {{"secret", {{"config", {{"a", true}}}}}, {"expires", "3000-01-01T00:00:00.000Z"}});
  absl::StatusOr<nlohmann::json> secret =
      secrets_->GetSecret(Permanent(), "worker-pool:proj-a/build");
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_EQ(*secret, nlohmann::json({{"config", {{"a", true}}}}));

  HttpRequest request = OnlyRequest();
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/api/secrets/v1/secret/worker-pool:proj-a%2Fbuild");
  EXPECT_NE(request.FindHeader("authorization"), nullptr);
  EXPECT_EQ(request.body, "");
}

TEST_F(WorkerManagerTest, GetSecretNotFound) {
  Answer(404, {{"code", "ResourceNotFound"}, {"message", "no such secret"}});
  absl::StatusOr<nlohmann::json> secret = secrets_->GetSecret(Permanent(), "worker-pool:proj/x");
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StartsWith(secret.status().message(), "get secret worker-pool:proj/x: "))
      << secret.status();
}

TEST_F(WorkerManagerTest, GetSecretForbidden) {
  Answer(403, {{"code", "InsufficientScopes"}, {"message", "no"}});
  absl::StatusOr<nlohmann::json> secret = secrets_->GetSecret(Permanent(), "worker-type:proj/x");
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(WorkerManagerTest, GetSecretWithoutSecretMemberIsInvalid) {
  Answer(200, {{"expires", "3000-01-01T00:00:00.000Z"}});
  absl::StatusOr<nlohmann::json> secret = secrets_->GetSecret(Permanent(), "worker-pool:proj/x");
  EXPECT_EQ(secret.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(secret.status().message(), "get secret worker-pool:proj/x response: missing secret");
}

TEST(TaskclusterTimeTest, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatTaskclusterTime(absl::FromUnixSeconds(1777889472) + absl::Milliseconds(5)),
            "2026-05-04T10:11:12.005Z");
  EXPECT_EQ(FormatTaskclusterTime(absl::FromUnixSeconds(0)), "1970-01-01T00:00:00.000Z");
}

TEST(TaskclusterTimeTest, ParsesAnyRfc3339Form) {
  const absl::Time expected = absl::FromUnixSeconds(1777889472);
  const char* forms[] = {
      "2026-05-04T10:11:12.000Z",  "2026-05-04T10:11:12Z",      "2026-05-04t10:11:12z",
      "2026-05-04T12:11:12+02:00", "2026-05-04T05:11:12-05:00", "2026-05-04T10:11:12.000000Z",
  };
  for (const char* form : forms) {
    SCOPED_TRACE(form);
    absl::StatusOr<absl::Time> parsed = ParseTaskclusterTime(form);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, expected);
  }
  absl::StatusOr<absl::Time> fraction = ParseTaskclusterTime("2026-05-04T10:11:12.25Z");
  ASSERT_TRUE(fraction.ok());
  EXPECT_EQ(*fraction, expected + absl::Milliseconds(250));
}

TEST(TaskclusterTimeTest, RejectsOtherText) {
  const char* bad[] = {"",
                       "tomorrow",
                       "2026-05-04",
                       "2026-05-04T10:11:12",
                       "2026-05-04 10:11:12Z",
                       " 2026-05-04T10:11:12Z",
                       "2026-05-04T10:11:12Z ",
                       "infinite-future",
                       "infinite-past",
                       "2026-13-04T10:11:12Z"};
  for (const char* text : bad) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ParseTaskclusterTime(text).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(TaskclusterTimeTest, FormatThenParseRoundTrips) {
  absl::Time time = absl::FromUnixMillis(1777889472123);
  absl::StatusOr<absl::Time> parsed = ParseTaskclusterTime(FormatTaskclusterTime(time));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, time);
}

TEST(SystemBootTimeTest, IsInThePast) {
  std::optional<absl::Time> boot = SystemBootTime();
  ASSERT_TRUE(boot.has_value());
  EXPECT_LT(*boot, absl::Now());
  EXPECT_GT(*boot, absl::FromUnixSeconds(0));
  EXPECT_EQ(*boot, absl::FromUnixSeconds(absl::ToUnixSeconds(*boot)));
}

}  // namespace
}  // namespace runner::taskcluster
