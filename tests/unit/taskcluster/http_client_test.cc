#include "server/taskcluster/http_client.h"

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "server/common/logger.h"
#include "server/taskcluster/hawk.h"
#include "server/taskcluster/url.h"
#include "tests/fakes/http/fake_http_server.h"
#include "tests/unit/taskcluster/test_support.h"

namespace runner::taskcluster {
namespace {

using fakes::FakeHttpServer;
using fakes::HttpRequest;
using fakes::HttpResponse;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "sEcReT-access-token-never-printed-0123456789";

Credentials Permanent() {
  Credentials credentials;
  credentials.client_id = "my-client";
  credentials.access_token = kToken;
  return credentials;
}

HttpResponse Json(int status, const std::string& body) {
  HttpResponse response;
  response.status = status;
  response.body = body;
  response.headers = {{"Content-Type", "application/json"}};
  return response;
}

// Reads one quoted attribute out of a Hawk Authorization header.
std::string HawkAttribute(const std::string& header, const std::string& name) {
  std::string key = absl::StrCat(name, "=\"");
  size_t start = header.find(key);
  if (start == std::string::npos) return "";
  start += key.size();
  return header.substr(start, header.find('"', start) - start);
}

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest()
      : clock_(absl::FromUnixSeconds(1700000000) + absl::Milliseconds(600)),
        random_(0.5),
        sleeper_(&clock_),
        server_([](const HttpRequest&) { return Json(200, "{}"); }) {}

  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    log_.emplace();
  }

  void TearDown() override {
    server_.Stop();
    log_.reset();
  }

  HttpClientOptions Options() {
    HttpClientOptions options;
    options.clock = &clock_;
    options.random = &random_;
    options.sleeper = &sleeper_;
    options.attempt_timeout = absl::Seconds(20);
    return options;
  }

  std::unique_ptr<HttpClient> NewClient(HttpClientOptions options) {
    absl::StatusOr<std::unique_ptr<HttpClient>> client =
        HttpClient::Create(server_.url(), std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
  std::unique_ptr<HttpClient> NewClient() { return NewClient(Options()); }

  // Log lines written by the retry layer.
  std::vector<std::string> RetryLines() const {
    return log_->LinesContaining("request failed, retrying");
  }

  ManualClock clock_;
  FixedRandom random_;
  ClockSleeper sleeper_;
  FakeHttpServer server_;
  std::optional<LogCapture> log_;  // captures from SetUp to TearDown
  Credentials credentials_ = Permanent();
};

// Answers with `statuses` in turn, then 200 with `final_body`.
fakes::HttpHandler Sequence(std::vector<int> statuses, std::string final_body) {
  auto count = std::make_shared<std::atomic<size_t>>(0);
  return [=](const HttpRequest&) {
    size_t n = (*count)++;
    if (n < statuses.size()) return Json(statuses[n], R"({"code":"Oops","message":"try again"})");
    return Json(200, final_body);
  };
}

TEST_F(HttpClientTest, RetriesServerErrorsWithFreshSignatureEachAttempt) {
  server_.SetHandler(Sequence({503, 500}, R"({"ok":true,"extra":[1]})"));
  auto client = NewClient();
  ApiRequest request{"POST", "worker-manager", "worker/reregister", nlohmann::json{{"a", 1}},
                     &credentials_};
  absl::StatusOr<nlohmann::json> result = client->Call(request);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["ok"], true);

  std::vector<HttpRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(sleeper_.delays(),
            (std::vector<absl::Duration>{absl::Milliseconds(500), absl::Milliseconds(750)}));

  // Each attempt is signed at its own time (the clock starts at .6 s) with its own nonce, and
  // the MAC covers exactly what went on the wire.
  const int64_t expected_ts[] = {1700000000, 1700000001, 1700000001};
  std::set<std::string> nonces;
  for (size_t i = 0; i < requests.size(); ++i) {
    SCOPED_TRACE(i);
    const std::string* header = requests[i].FindHeader("authorization");
    ASSERT_NE(header, nullptr);
    ASSERT_TRUE(absl::StartsWith(*header, "Hawk "));
    int64_t ts = 0;
    ASSERT_TRUE(absl::SimpleAtoi(HawkAttribute(*header, "ts"), &ts));
    EXPECT_EQ(ts, expected_ts[i]);
    nonces.insert(HawkAttribute(*header, "nonce"));
    EXPECT_EQ(HawkAttribute(*header, "id"), "my-client");
    EXPECT_EQ(header->find("ext="), std::string::npos);

    HawkArtifacts artifacts;
    artifacts.method = requests[i].method;
    artifacts.resource = requests[i].target;
    artifacts.host = "127.0.0.1";
    artifacts.port = server_.port();
    artifacts.ts = ts;
    artifacts.nonce = HawkAttribute(*header, "nonce");
    EXPECT_EQ(HawkAttribute(*header, "mac"), HawkMac(kToken, artifacts));
    EXPECT_EQ(requests[i].target, "/api/worker-manager/v1/worker/reregister");
    EXPECT_EQ(requests[i].body, R"({"a":1})");
  }
  EXPECT_EQ(nonces.size(), 3u);
}

TEST_F(HttpClientTest, RetriesTooManyRequests) {
  server_.SetHandler(Sequence({429}, "{}"));
  auto client = NewClient();
  ASSERT_TRUE(client->Call({"GET", "secrets", "ping", std::nullopt, nullptr}).ok());
  EXPECT_EQ(server_.requests().size(), 2u);
}

TEST_F(HttpClientTest, NotFoundIsNotRetriedAndCarriesServiceCodeAndMessage) {
  server_.SetHandler([](const HttpRequest&) {
    return Json(404, R"({"code":"ResourceNotFound","message":"secret worker-pool:a/b not found)"
                     R"(\n\n---\n\n* method: get","requestInfo":{"method":"get"}})");
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"GET", "secrets", "secret/" + EscapePathSegment("worker-pool:a/b"),
                    std::nullopt, &credentials_});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(result.status().message(),
              HasSubstr("GET /api/secrets/v1/secret/worker-pool:a%2Fb: http status 404"));
  EXPECT_THAT(result.status().message(),
              HasSubstr("ResourceNotFound: secret worker-pool:a/b not found"));
  EXPECT_THAT(result.status().message(), Not(HasSubstr("* method")));
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_TRUE(sleeper_.delays().empty());
  EXPECT_TRUE(RetryLines().empty());
}

TEST_F(HttpClientTest, MapsHttpStatusToCode) {
  struct Case {
    int status;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {400, absl::StatusCode::kInvalidArgument},    {401, absl::StatusCode::kUnauthenticated},
      {403, absl::StatusCode::kPermissionDenied},   {404, absl::StatusCode::kNotFound},
      {409, absl::StatusCode::kAlreadyExists},      {410, absl::StatusCode::kFailedPrecondition},
      {418, absl::StatusCode::kFailedPrecondition},
  };
  auto client = NewClient();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status);
    server_.SetHandler([&](const HttpRequest&) { return Json(c.status, "{}"); });
    EXPECT_EQ(client->Call({"GET", "secrets", "ping", std::nullopt, nullptr}).status().code(),
              c.code);
  }
  EXPECT_EQ(server_.requests().size(), std::size(cases));
}

TEST_F(HttpClientTest, GivesUpAsUnavailableWhenBudgetIsSpent) {
  server_.SetHandler(
      [](const HttpRequest&) { return Json(503, R"({"code":"ProviderSetupFailed"})"); });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result = client->Call(
      {"POST", "worker-manager", "worker/register", nlohmann::json::object(), nullptr});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("http status 503: ProviderSetupFailed"));
  EXPECT_THAT(result.status().message(), HasSubstr("gave up after 26 attempts"));
  EXPECT_EQ(server_.requests().size(), 26u);

  // One line per retried failure: the first at INFO, then quiet, one warning once the delays
  // stop growing.
  std::vector<std::string> lines = RetryLines();
  ASSERT_EQ(lines.size(), 25u);
  EXPECT_THAT(lines[0], HasSubstr("INFO"));
  EXPECT_THAT(lines[1], HasSubstr("DEBUG"));
  EXPECT_THAT(lines[0], HasSubstr("attempt=1 "));
  int warnings = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (absl::StrContains(lines[i], "WARNING")) {
      ++warnings;
      EXPECT_THAT(lines[i], HasSubstr("attempt=13 "));
    }
  }
  EXPECT_EQ(warnings, 1);
}

TEST_F(HttpClientTest, WarnsWhenFailureChanges) {
  server_.SetHandler(Sequence({503, 502, 502}, "{}"));
  auto client = NewClient();
  ASSERT_TRUE(client->Call({"GET", "secrets", "ping", std::nullopt, nullptr}).ok());
  std::vector<std::string> lines = RetryLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("INFO"));
  EXPECT_THAT(lines[1], HasSubstr("WARNING"));
  EXPECT_THAT(lines[1], HasSubstr("attempt=2 "));
  EXPECT_THAT(lines[2], HasSubstr("DEBUG"));
}

TEST_F(HttpClientTest, DoesNotFollowRedirects) {
  server_.SetHandler([this](const HttpRequest& request) {
    if (request.target != "/api/secrets/v1/ping") return Json(200, "{}");
    HttpResponse response = Json(302, "");
    response.headers.push_back({"Location", server_.url() + "/elsewhere"});
    return response;
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"GET", "secrets", "ping", std::nullopt, nullptr});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(), HasSubstr("http status 302"));
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(HttpClientTest, TimesOutEachAttemptAndReportsDeadlineExceeded) {
  server_.SetHandler([](const HttpRequest&) {
    HttpResponse response = Json(200, "{}");
    response.delay = absl::Seconds(30);
    return response;
  });
  HttpClientOptions options = Options();
  options.attempt_timeout = absl::Milliseconds(200);
  options.backoff.max_elapsed = absl::Seconds(1);
  auto client = NewClient(options);
  absl::Time started = absl::Now();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"GET", "secrets", "ping", std::nullopt, nullptr});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded);
  // Delays of 0.5 s and 0.75 s (on the manual clock) spend the 1 s budget after three attempts.
  EXPECT_EQ(server_.requests().size(), 3u);
  EXPECT_LT(absl::Now() - started, absl::Seconds(10));
}

TEST_F(HttpClientTest, ReusesOneConnectionAcrossCalls) {
  auto client = NewClient();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client->Call({"GET", "secrets", "ping", std::nullopt, &credentials_}).ok());
  }
  std::vector<HttpRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].connection_id, requests[1].connection_id);
  EXPECT_EQ(requests[1].connection_id, requests[2].connection_id);
  EXPECT_EQ(server_.connections_accepted(), 1);
}

TEST_F(HttpClientTest, SerialisesConcurrentCallsOverOneHandle) {
  auto client = NewClient();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (!client->Call({"GET", "secrets", "ping", std::nullopt, nullptr}).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(server_.requests().size(), 20u);
  EXPECT_EQ(server_.connections_accepted(), 1);
}

TEST_F(HttpClientTest, UnauthenticatedCallHasNoAuthorizationButJsonBody) {
  auto client = NewClient();
  nlohmann::json body = {{"workerPoolId", "proj-a/build"}, {"workerId", "i-1"}};
  ASSERT_TRUE(client->Call({"POST", "worker-manager", "worker/register", body, nullptr}).ok());
  std::vector<HttpRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].FindHeader("authorization"), nullptr);
  ASSERT_NE(requests[0].FindHeader("content-type"), nullptr);
  EXPECT_EQ(*requests[0].FindHeader("content-type"), "application/json");
  EXPECT_EQ(requests[0].body, body.dump());
}

TEST_F(HttpClientTest, NoContentTypeWithoutBody) {
  auto client = NewClient();
  ASSERT_TRUE(
      client->Call({"DELETE", "worker-manager", "workers/a%2Fb/g/w", std::nullopt, &credentials_})
          .ok());
  ASSERT_TRUE(client->Call({"GET", "secrets", "ping", std::nullopt, &credentials_}).ok());
  std::vector<HttpRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].target, "/api/worker-manager/v1/workers/a%2Fb/g/w");
  EXPECT_EQ(requests[1].method, "GET");
  for (const HttpRequest& request : requests) {
    EXPECT_EQ(request.FindHeader("content-type"), nullptr);
    EXPECT_TRUE(request.body.empty());
    EXPECT_NE(request.FindHeader("authorization"), nullptr);
  }
}

TEST_F(HttpClientTest, NonJsonErrorBodyIsQuotedShortly) {
  std::string page = "<html><body>" + std::string(1000, 'x') + "</body></html>";
  server_.SetHandler([&](const HttpRequest&) {
    HttpResponse response;
    response.status = 400;
    response.body = page;
    return response;
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"GET", "secrets", "ping", std::nullopt, nullptr});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("http status 400: body: <html><body>xxx"));
  EXPECT_LT(result.status().message().size(), 400u);
}

TEST_F(HttpClientTest, SuccessBodyMustBeJson) {
  server_.SetHandler([](const HttpRequest&) { return Json(200, "<html>ok</html>"); });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"GET", "secrets", "ping", std::nullopt, nullptr});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(), HasSubstr("invalid JSON in response"));
}

TEST_F(HttpClientTest, EmptySuccessBodyIsEmptyObject) {
  server_.SetHandler([](const HttpRequest&) { return Json(204, ""); });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"DELETE", "worker-manager", "workers/a/b/c", std::nullopt, nullptr});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, nlohmann::json::object());
}

TEST_F(HttpClientTest, TransportErrorsAreRetriedThenUnavailable) {
  FakeHttpServer closed([](const HttpRequest&) { return Json(200, "{}"); });
  ASSERT_TRUE(closed.Start().ok());
  std::string url = closed.url();
  closed.Stop();
  HttpClientOptions options = Options();
  options.backoff.max_elapsed = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(url, options);
  ASSERT_TRUE(client.ok());
  absl::StatusOr<nlohmann::json> result =
      (*client)->Call({"GET", "secrets", "ping", std::nullopt, nullptr});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("transport error"));
  EXPECT_EQ(sleeper_.delays().size(), 3u);
  // The same failure again and again stays quiet, even though libcurl's text changes each time.
  std::vector<std::string> lines = RetryLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("INFO"));
  EXPECT_THAT(lines[1], HasSubstr("DEBUG"));
  EXPECT_THAT(lines[2], HasSubstr("DEBUG"));
}

TEST_F(HttpClientTest, AccessTokenNeverAppearsInLogsOrErrors) {
  // A misbehaving proxy echoes the request's credentials back in its error pages.
  Credentials credentials = Permanent();
  credentials.certificate = R"({"version":1,"seed":"certificate-seed-value-0123456789"})";
  server_.SetHandler([count = std::make_shared<std::atomic<int>>(0)](const HttpRequest& request) {
    const std::string* auth = request.FindHeader("authorization");
    std::string echo = absl::StrCat("token=", kToken, " auth=", auth ? *auth : "");
    if ((*count)++ < 2) return Json(503, echo);
    return Json(400, nlohmann::json{{"code", "InputError"}, {"message", echo}}.dump());
  });
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"POST", "worker-manager", "worker/reregister",
                    nlohmann::json{{"secret", "one-time-secret-value"}}, &credentials});
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("InputError"));
  EXPECT_THAT(result.status().message(), Not(HasSubstr(kToken)));
  EXPECT_THAT(result.status().message(), Not(HasSubstr("one-time-secret-value")));

  common::LogDebug("test", "probe", {{"value", kToken}});
  std::vector<std::string> lines = log_->lines();
  ASSERT_GE(lines.size(), 3u);
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr(kToken)));
    EXPECT_THAT(line, Not(HasSubstr("certificate-seed-value")));
    EXPECT_THAT(line, Not(HasSubstr("one-time-secret-value")));
    EXPECT_THAT(line, Not(HasSubstr("Hawk ")));
  }
}

TEST_F(HttpClientTest, UnparsableCertificateSendsNothing) {
  Credentials credentials = Permanent();
  credentials.certificate = "{broken";
  auto client = NewClient();
  absl::StatusOr<nlohmann::json> result =
      client->Call({"GET", "secrets", "ping", std::nullopt, &credentials});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_.requests().empty());
}

TEST(HttpClientCreateTest, RejectsRootUrlThatIsNotHttp) {
  EXPECT_EQ(HttpClient::Create("ftp://127.0.0.1/").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace runner::taskcluster
