#include "server/providers/metadata/metadata_client.h"

#include <stdlib.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/fakes/http/fake_http_server.h"
#include "tests/unit/providers/metadata_fixture.h"
#include "tests/unit/taskcluster/test_support.h"

namespace runner::providers::metadata {
namespace {

using fakes::HttpRequest;
using fakes::HttpResponse;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Never contacted: tests assert the base was replaced before sending anything.
constexpr char kLinkLocalBase[] = "http://169.254.169.254";

HttpResponse Respond(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// Answers with `statuses` in turn, then 200 with `final_body`.
fakes::HttpHandler Sequence(std::vector<int> statuses, std::string final_body) {
  auto count = std::make_shared<std::atomic<size_t>>(0);
  return [=](const HttpRequest&) {
    size_t n = (*count)++;
    if (n < statuses.size()) return Respond(statuses[n], "error body: private-user-data");
    return Respond(200, final_body);
  };
}

class MetadataClientTest : public MetadataFakeTest {
 protected:
  MetadataClientTest() : MetadataFakeTest([](const HttpRequest&) { return Respond(200, "ok"); }) {}

  MetadataClientOptions Options() {
    MetadataClientOptions options;
    options.attempt_timeout = absl::Seconds(20);
    UseFakes(&options);
    return options;
  }

  std::unique_ptr<MetadataClient> NewClient(MetadataClientOptions options) {
    absl::StatusOr<std::unique_ptr<MetadataClient>> client =
        MetadataClient::Create(kLinkLocalBase, std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    return ReachesOnlyFake((*client)->base_url()) ? *std::move(client) : nullptr;
  }
  std::unique_ptr<MetadataClient> NewClient() { return NewClient(Options()); }

  std::vector<std::string> RetryLines() const {
    return log_->LinesContaining("metadata request failed, retrying");
  }
};

TEST_F(MetadataClientTest, EnvironmentReplacesSchemeAndHostAndKeepsBasePath) {
  MetadataClientOptions options = Options();
  options.base_url_override.reset();
  absl::StatusOr<std::unique_ptr<MetadataClient>> client =
      MetadataClient::Create("http://metadata.google.internal/computeMetadata/v1/", options);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_EQ((*client)->base_url(), server_.url() + "/computeMetadata/v1");

  absl::StatusOr<std::string> body = (*client)->Get("/instance/id", {});
  ASSERT_TRUE(body.ok()) << body.status();
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0].target, "/computeMetadata/v1/instance/id");
}

TEST_F(MetadataClientTest, EnvironmentWithTrailingSlashReplacesOrigin) {
  setenv(MetadataClient::kBaseUrlEnv, (server_.url() + "/").c_str(), 1);
  MetadataClientOptions options = Options();
  options.base_url_override.reset();
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Get("/latest/meta-data/instance-id", {}).ok());
  EXPECT_EQ(server_.requests()[0].target, "/latest/meta-data/instance-id");
}

TEST_F(MetadataClientTest, ExplicitOverrideTakesPrecedenceOverEnvironment) {
  // A closed loopback port: were the variable used, the call would fail.
  setenv(MetadataClient::kBaseUrlEnv, "http://127.0.0.1:1", 1);
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Get("/x", {}).ok());
}

TEST_F(MetadataClientTest, RejectsUnusableOverrides) {
  const char* cases[] = {"ftp://127.0.0.1:21", "127.0.0.1:80", "http://127.0.0.1:8080/prefix",
                         "http://127.0.0.1:8080/?q=1", "http://user@127.0.0.1"};
  for (const char* value : cases) {
    SCOPED_TRACE(value);
    MetadataClientOptions options = Options();
    options.base_url_override = value;
    absl::StatusOr<std::unique_ptr<MetadataClient>> client =
        MetadataClient::Create(kLinkLocalBase, options);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);

    setenv(MetadataClient::kBaseUrlEnv, value, 1);
    options.base_url_override.reset();
    client = MetadataClient::Create(kLinkLocalBase, options);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(client.status().message(), HasSubstr(MetadataClient::kBaseUrlEnv));
  }
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(MetadataClientTest, ReturnsBodiesVerbatim) {
  const std::string bodies[] = {"42\n", "  padded \r\n\n", "", std::string("nul\0inside", 10)};
  for (const std::string& body : bodies) {
    SCOPED_TRACE(body);
    server_.SetHandler([&](const HttpRequest&) { return Respond(200, body); });
    auto client = NewClient();
    ASSERT_NE(client, nullptr);
    absl::StatusOr<std::string> got = client->Get("/latest/meta-data/x", {});
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, body);

    got = client->Put("/latest/api/token", {}, "");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, body);
  }
}

TEST_F(MetadataClientTest, RetriesServerErrorsThenSucceeds) {
  server_.SetHandler(Sequence({500, 503}, "done"));
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> body = client->Get("/latest/meta-data/x", {});
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "done");
  EXPECT_EQ(server_.requests().size(), 3u);
  EXPECT_EQ(sleeper_.delays(),
            (std::vector<absl::Duration>{absl::Milliseconds(500), absl::Milliseconds(750)}));
}

TEST_F(MetadataClientTest, RetriesTooManyRequests) {
  server_.SetHandler(Sequence({429}, "done"));
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Get("/x", {}).ok());
  EXPECT_EQ(server_.requests().size(), 2u);
}

TEST_F(MetadataClientTest, NotFoundIsPermanentAndNamesEndpointButNotBody) {
  server_.SetHandler(Sequence({404}, "never"));
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> body = client->Get("/latest/meta-data/public-ipv4?x=secret", {});
  EXPECT_EQ(body.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(body.status().message(),
              HasSubstr("metadata GET /latest/meta-data/public-ipv4: http status 404"));
  EXPECT_THAT(body.status().message(), Not(HasSubstr("private-user-data")));
  EXPECT_THAT(body.status().message(), Not(HasSubstr("secret")));
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_TRUE(sleeper_.delays().empty());
  EXPECT_TRUE(RetryLines().empty());
}

TEST_F(MetadataClientTest, MapsPermanentStatusesToCodes) {
  struct Case {
    int status;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {401, absl::StatusCode::kUnauthenticated},    {403, absl::StatusCode::kPermissionDenied},
      {404, absl::StatusCode::kNotFound},           {400, absl::StatusCode::kFailedPrecondition},
      {405, absl::StatusCode::kFailedPrecondition}, {302, absl::StatusCode::kFailedPrecondition}};
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.status);
    server_.SetHandler([&](const HttpRequest&) { return Respond(c.status, "nope"); });
    size_t before = server_.requests().size();
    absl::StatusOr<std::string> body = client->Put("/latest/api/token", {}, "");
    EXPECT_EQ(body.status().code(), c.code);
    EXPECT_THAT(body.status().message(), HasSubstr(absl::StrCat("http status ", c.status)));
    EXPECT_EQ(server_.requests().size(), before + 1);
  }
}

TEST_F(MetadataClientTest, DoesNotFollowRedirects) {
  server_.SetHandler([&](const HttpRequest& request) {
    if (request.target == "/moved") {
      HttpResponse response = Respond(302, "");
      response.headers = {{"Location", server_.url() + "/elsewhere"}};
      return response;
    }
    return Respond(200, "followed");
  });
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Get("/moved", {}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(MetadataClientTest, GivesUpWithUnavailableWhenBudgetIsSpent) {
  server_.SetHandler([](const HttpRequest&) { return Respond(503, "busy"); });
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> body = client->Get("/latest/user-data", {});
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(body.status().message()),
              StartsWith("metadata GET /latest/user-data: http status 503 (gave up after "));
  EXPECT_GE(clock_.Now() - absl::FromUnixSeconds(1700000000), absl::Minutes(15));
  EXPECT_GT(server_.requests().size(), 10u);

  // The first failure at INFO, then quiet; a warning only once the delays stopped growing.
  std::vector<std::string> lines = RetryLines();
  ASSERT_EQ(lines.size(), server_.requests().size() - 1);
  EXPECT_THAT(lines[0], HasSubstr("INFO"));
  EXPECT_THAT(lines[1], HasSubstr("DEBUG"));
  int warnings = 0;
  for (const std::string& line : lines) warnings += absl::StrContains(line, "WARNING") ? 1 : 0;
  EXPECT_EQ(warnings, 1);
}

TEST_F(MetadataClientTest, TimedOutAttemptIsRetried) {
  auto count = std::make_shared<std::atomic<int>>(0);
  server_.SetHandler([count](const HttpRequest&) {
    HttpResponse response = Respond(200, "late enough");
    if ((*count)++ == 0) response.delay = absl::Seconds(5);
    return response;
  });
  MetadataClientOptions options = Options();
  options.attempt_timeout = absl::Milliseconds(200);
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::string> body = client->Get("/slow", {});
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "late enough");
  EXPECT_EQ(sleeper_.delays().size(), 1u);
  ASSERT_EQ(RetryLines().size(), 1u);
  EXPECT_THAT(RetryLines()[0], HasSubstr("attempt timed out"));
}

TEST_F(MetadataClientTest, GetOnceIsOneAttemptWithItsOwnTimeout) {
  server_.SetHandler([](const HttpRequest&) {
    HttpResponse response = Respond(200, "late");
    response.delay = absl::Seconds(5);
    return response;
  });
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<MetadataResponse> response = client->GetOnce("/slow", {}, absl::Milliseconds(200));
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_TRUE(sleeper_.delays().empty());
}

TEST_F(MetadataClientTest, GetOnceReturnsAnyStatusWithoutRetrying) {
  server_.SetHandler([](const HttpRequest&) { return Respond(503, "busy\n"); });
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  absl::StatusOr<MetadataResponse> response = client->GetOnce("/p", {}, absl::Seconds(5));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "busy\n");
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(MetadataClientTest, TransportErrorOnceIsUnavailable) {
  MetadataClientOptions options = Options();
  options.base_url_override = "http://127.0.0.1:1";
  absl::StatusOr<std::unique_ptr<MetadataClient>> client =
      MetadataClient::Create(kLinkLocalBase, options);
  ASSERT_TRUE(client.ok());
  ASSERT_EQ((*client)->base_url(), "http://127.0.0.1:1");
  EXPECT_EQ((*client)->GetOnce("/p", {}, absl::Seconds(2)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(MetadataClientTest, SendsHeadersAsGivenAndPutBody) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Put("/token", {{"X-Ttl", "21600"}, {"Metadata", "true"}}, "").ok());
  ASSERT_TRUE(client->Get("/data", {{"X-Token", "abc-value"}}).ok());

  std::vector<HttpRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/token");
  EXPECT_EQ(requests[0].body, "");
  ASSERT_NE(requests[0].FindHeader("X-Ttl"), nullptr);
  EXPECT_EQ(*requests[0].FindHeader("X-Ttl"), "21600");
  ASSERT_NE(requests[0].FindHeader("Metadata"), nullptr);
  EXPECT_EQ(*requests[0].FindHeader("Metadata"), "true");
  EXPECT_EQ(requests[0].FindHeader("Content-Type"), nullptr);
  EXPECT_EQ(requests[0].FindHeader("X-Token"), nullptr);

  EXPECT_EQ(requests[1].method, "GET");
  ASSERT_NE(requests[1].FindHeader("X-Token"), nullptr);
  EXPECT_EQ(*requests[1].FindHeader("X-Token"), "abc-value");
  EXPECT_EQ(requests[1].FindHeader("X-Ttl"), nullptr);
}

TEST_F(MetadataClientTest, RejectsMalformedPathsAndHeadersWithoutSending) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Get("relative", {}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Get("/a\r\nHost: x", {}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> bad_header = client->Get("/a", {{"X-Token", "v\r\nInjected: 1"}});
  EXPECT_EQ(bad_header.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_header.status().message(), Not(HasSubstr("Injected")));
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(MetadataClientTest, RetryLogsCarryNeitherBodiesNorHeaderValues) {
  server_.SetHandler(Sequence({500, 502, 500}, "fine"));
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Get("/x?audience=secret-query", {{"X-Token", "header-secret-value"}}).ok());
  std::vector<std::string> lines = RetryLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("INFO"));
  EXPECT_THAT(lines[1], HasSubstr("WARNING"));  // the failure changed from 500 to 502
  EXPECT_THAT(lines[2], HasSubstr("WARNING"));
  for (const std::string& line : log_->lines()) {
    EXPECT_THAT(line, Not(HasSubstr("private-user-data")));
    EXPECT_THAT(line, Not(HasSubstr("header-secret-value")));
    EXPECT_THAT(line, Not(HasSubstr("secret-query")));
  }
}

TEST_F(MetadataClientTest, ConcurrentCallsShareTheHandle) {
  server_.SetHandler([](const HttpRequest& request) { return Respond(200, request.target); });
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string path = absl::StrCat("/t", t, "/", i);
        absl::StatusOr<std::string> body = client->Get(path, {});
        if (body.ok() && *body == path) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 40);
}

}  // namespace
}  // namespace runner::providers::metadata
