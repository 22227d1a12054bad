#include "server/providers/metadata/aws_imds.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
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

constexpr char kTokenPrefix[] = "AQAEAfakeImdsToken";
constexpr char kIdentityDocument[] =
    "{\n  \"accountId\" : \"123456789012\",\n  \"instanceId\" : \"i-0abc\",\n"
    "  \"imageId\" : \"ami-0def\",\n  \"instanceType\" : \"m5.large\",\n"
    "  \"region\" : \"us-west-2\",\n  \"availabilityZone\" : \"us-west-2b\",\n"
    "  \"privateIp\" : \"10.0.0.7\",\n  \"version\" : \"2017-09-30\"\n}";

HttpResponse Respond(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// An IMDSv2 service: PUT /latest/api/token issues a new token (and invalidates the old one);
// GETs need the current token and answer from a table of routes, 404 otherwise. Thread-safe.
class FakeImds {
 public:
  HttpResponse Handle(const HttpRequest& request) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (request.target == "/latest/api/token") {
      if (request.method != "PUT") return Respond(405, "");
      if (token_failures_ > 0) {
        --token_failures_;
        return Respond(503, "");
      }
      current_ = absl::StrCat(kTokenPrefix, ++issued_);
      return Respond(200, current_);
    }
    const std::string* token = request.FindHeader("X-aws-ec2-metadata-token");
    if (request.method != "GET" || token == nullptr || *token != current_) {
      return Respond(401, "");
    }
    if (rejections_ > 0) {
      --rejections_;
      return Respond(401, "");
    }
    auto it = routes_.find(request.target);
    return it == routes_.end() ? Respond(404, "not found") : it->second;
  }

  void Route(const std::string& target, HttpResponse response) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    routes_[target] = std::move(response);
  }
  void Route(const std::string& target, std::string body) { Route(target, Respond(200, body)); }
  // The next `count` token requests answer 503.
  void FailTokens(int count) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    token_failures_ = count;
  }
  // The next `count` GETs carrying the current token answer 401 anyway.
  void RejectGets(int count) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    rejections_ = count;
  }
  int issued() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return issued_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, HttpResponse> routes_ ABSL_GUARDED_BY(mu_);
  std::string current_ ABSL_GUARDED_BY(mu_) = "none issued yet";
  int issued_ ABSL_GUARDED_BY(mu_) = 0;
  int token_failures_ ABSL_GUARDED_BY(mu_) = 0;
  int rejections_ ABSL_GUARDED_BY(mu_) = 0;
};

class AwsImdsTest : public MetadataFakeTest {
 protected:
  AwsImdsTest()
      : MetadataFakeTest([this](const HttpRequest& request) { return imds_.Handle(request); }) {}

  MetadataClientOptions Options() {
    MetadataClientOptions options = AwsImds::DefaultOptions();
    UseFakes(&options);
    return options;
  }

  std::unique_ptr<AwsImds> NewImds(MetadataClientOptions options) {
    absl::StatusOr<std::unique_ptr<AwsImds>> imds = AwsImds::Create(std::move(options));
    EXPECT_TRUE(imds.ok()) << imds.status();
    if (!imds.ok()) return nullptr;
    return ReachesOnlyFake((*imds)->base_url()) ? *std::move(imds) : nullptr;
  }
  std::unique_ptr<AwsImds> NewImds() { return NewImds(Options()); }

  // (method, target) of every request, in order.
  std::vector<std::string> Calls() const {
    std::vector<std::string> out;
    for (const HttpRequest& request : server_.requests()) {
      out.push_back(absl::StrCat(request.method, " ", request.target));
    }
    return out;
  }

  FakeImds imds_;
};

TEST_F(AwsImdsTest, DefaultsToTwoSecondAttempts) {
  EXPECT_EQ(AwsImds::DefaultOptions().attempt_timeout, absl::Seconds(2));
}

TEST_F(AwsImdsTest, UsesEnvironmentBaseUrl) {
  MetadataClientOptions options = Options();
  options.base_url_override.reset();
  imds_.Route("/latest/meta-data/instance-id", "i-0abc");
  auto imds = NewImds(options);
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<std::string> id = imds->Get("/meta-data/instance-id");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "i-0abc");
}

TEST_F(AwsImdsTest, FetchesTokenWithPutAndSendsItOnGet) {
  imds_.Route("/latest/meta-data/instance-id", "i-0abc\n");
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<std::string> id = imds->Get("/meta-data/instance-id");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "i-0abc\n");

  std::vector<HttpRequest> requests = server_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/latest/api/token");
  EXPECT_EQ(requests[0].body, "");
  ASSERT_NE(requests[0].FindHeader("X-aws-ec2-metadata-token-ttl-seconds"), nullptr);
  EXPECT_EQ(*requests[0].FindHeader("X-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(requests[0].FindHeader("X-aws-ec2-metadata-token"), nullptr);

  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].target, "/latest/meta-data/instance-id");
  ASSERT_NE(requests[1].FindHeader("X-aws-ec2-metadata-token"), nullptr);
  EXPECT_EQ(*requests[1].FindHeader("X-aws-ec2-metadata-token"), absl::StrCat(kTokenPrefix, 1));
  EXPECT_EQ(requests[1].FindHeader("X-aws-ec2-metadata-token-ttl-seconds"), nullptr);
}

TEST_F(AwsImdsTest, CachesTokenAcrossGets) {
  imds_.Route("/latest/meta-data/a", "1");
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(imds->Get("/meta-data/a").ok());
  ASSERT_TRUE(imds->GetOnce("/meta-data/a").ok());
  EXPECT_EQ(imds_.issued(), 1);
  EXPECT_EQ(server_.requests().size(), 5u);
}

TEST_F(AwsImdsTest, RefetchesTokenWithinFifteenMinutesOfExpiry) {
  imds_.Route("/latest/meta-data/a", "1");
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  ASSERT_TRUE(imds->Get("/meta-data/a").ok());

  clock_.Advance(absl::Seconds(21600) - absl::Minutes(15) - absl::Seconds(1));
  ASSERT_TRUE(imds->Get("/meta-data/a").ok());
  EXPECT_EQ(imds_.issued(), 1);

  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(imds->Get("/meta-data/a").ok());
  EXPECT_EQ(imds_.issued(), 2);
  EXPECT_EQ(*server_.requests().back().FindHeader("X-aws-ec2-metadata-token"),
            absl::StrCat(kTokenPrefix, 2));
}

TEST_F(AwsImdsTest, RejectedTokenIsReplacedAndGetRetriedOnce) {
  imds_.Route("/latest/meta-data/a", "value");
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  ASSERT_TRUE(imds->Get("/meta-data/a").ok());
  imds_.RejectGets(1);
  absl::StatusOr<std::string> body = imds->Get("/meta-data/a");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, "value");
  EXPECT_EQ(Calls(), (std::vector<std::string>{"PUT /latest/api/token", "GET /latest/meta-data/a",
                                               "GET /latest/meta-data/a", "PUT /latest/api/token",
                                               "GET /latest/meta-data/a"}));
  EXPECT_EQ(*server_.requests().back().FindHeader("X-aws-ec2-metadata-token"),
            absl::StrCat(kTokenPrefix, 2));
  EXPECT_TRUE(sleeper_.delays().empty());
}

TEST_F(AwsImdsTest, SecondRejectionIsUnauthenticated) {
  imds_.Route("/latest/meta-data/a", "value");
  imds_.RejectGets(2);
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<std::string> body = imds->Get("/meta-data/a");
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(body.status().message(), HasSubstr("/latest/meta-data/a: http status 401"));
  EXPECT_EQ(Calls(),
            (std::vector<std::string>{"PUT /latest/api/token", "GET /latest/meta-data/a",
                                      "PUT /latest/api/token", "GET /latest/meta-data/a"}));
}

TEST_F(AwsImdsTest, TokenFetchIsRetriedOnServerErrors) {
  imds_.Route("/latest/meta-data/a", "value");
  imds_.FailTokens(2);
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  ASSERT_TRUE(imds->Get("/meta-data/a").ok());
  EXPECT_EQ(sleeper_.delays().size(), 2u);
  EXPECT_EQ(imds_.issued(), 1);
}

TEST_F(AwsImdsTest, GetOnceMakesSingleAttempts) {
  imds_.Route("/latest/meta-data/spot/termination-time", Respond(503, "busy"));
  imds_.FailTokens(1);
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<MetadataResponse> response = imds->GetOnce("/meta-data/spot/termination-time");
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(response.status().message(), HasSubstr("/latest/api/token: http status 503"));

  response = imds->GetOnce("/meta-data/spot/termination-time");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, "busy");
  EXPECT_TRUE(sleeper_.delays().empty());
  EXPECT_EQ(server_.requests().size(), 3u);
}

TEST_F(AwsImdsTest, GetOnceReplacesRejectedTokenOnce) {
  imds_.Route("/latest/meta-data/spot/termination-time", "2026-01-01T00:00:00Z");
  imds_.RejectGets(1);
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<MetadataResponse> response = imds->GetOnce("/meta-data/spot/termination-time");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(imds_.issued(), 2);

  imds_.RejectGets(2);
  response = imds->GetOnce("/meta-data/spot/termination-time");
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(imds_.issued(), 3);
}

TEST_F(AwsImdsTest, AttemptTimeoutAppliesToPolls) {
  HttpResponse slow = Respond(200, "late");
  slow.delay = absl::Seconds(5);
  imds_.Route("/latest/meta-data/spot/termination-time", slow);
  MetadataClientOptions options = Options();
  options.attempt_timeout = absl::Milliseconds(200);
  auto imds = NewImds(options);
  ASSERT_NE(imds, nullptr);
  EXPECT_EQ(imds->GetOnce("/meta-data/spot/termination-time").status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(AwsImdsTest, ParsesUserData) {
  imds_.Route("/latest/user-data",
              R"({"rootUrl":"https://tc.example.com/","workerPoolId":"proj/pool",)"
              R"("providerId":"aws","workerGroup":"us-west-2","workerConfig":{"a":1},)"
              R"("launchConfigId":"lc-1"})");
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<AwsUserData> data = imds->UserData();
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->root_url, "https://tc.example.com/");  // not normalised
  EXPECT_EQ(data->worker_pool_id, "proj/pool");
  EXPECT_EQ(data->provider_id, "aws");
  EXPECT_EQ(data->worker_group, "us-west-2");
}

TEST_F(AwsImdsTest, RejectsUnusableUserData) {
  struct Case {
    std::string body;
    std::string message;
  };
  const Case cases[] = {
      {"not json, secretive", "/latest/user-data: not a JSON object"},
      {"[1,2]", "/latest/user-data: not a JSON object"},
      {R"({"workerPoolId":"p","providerId":"aws","workerGroup":"g"})",
       "/latest/user-data: missing string field rootUrl"},
      {R"({"rootUrl":"https://tc","workerPoolId":"p","providerId":7,"workerGroup":"g"})",
       "/latest/user-data: missing string field providerId"},
  };
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    imds_.Route("/latest/user-data", c.body);
    absl::StatusOr<AwsUserData> data = imds->UserData();
    EXPECT_EQ(data.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(data.status().message(), HasSubstr(c.message));
    EXPECT_THAT(data.status().message(), Not(HasSubstr("secretive")));
  }
}

TEST_F(AwsImdsTest, IdentityDocumentKeepsRawTextByteExact) {
  imds_.Route("/latest/dynamic/instance-identity/document", kIdentityDocument);
  imds_.Route("/latest/dynamic/instance-identity/signature", "c2lnbmF0dXJl\nbGluZTI=");
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<AwsIdentityDocument> document = imds->IdentityDocument();
  ASSERT_TRUE(document.ok()) << document.status();
  EXPECT_EQ(document->raw, kIdentityDocument);
  EXPECT_EQ(document->instance_id, "i-0abc");
  EXPECT_EQ(document->image_id, "ami-0def");
  EXPECT_EQ(document->instance_type, "m5.large");
  EXPECT_EQ(document->region, "us-west-2");
  EXPECT_EQ(document->availability_zone, "us-west-2b");
  EXPECT_EQ(document->private_ip, "10.0.0.7");

  absl::StatusOr<std::string> signature = imds->IdentitySignature();
  ASSERT_TRUE(signature.ok()) << signature.status();
  EXPECT_EQ(*signature, "c2lnbmF0dXJl\nbGluZTI=");
}

TEST_F(AwsImdsTest, RejectsUnusableIdentityDocument) {
  const char* bodies[] = {"<html>", R"({"instanceId":"i-1","imageId":"ami","instanceType":"t3",)"
                                    R"("region":"r","availabilityZone":"z"})"};
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  for (const char* body : bodies) {
    SCOPED_TRACE(body);
    imds_.Route("/latest/dynamic/instance-identity/document", body);
    absl::StatusOr<AwsIdentityDocument> document = imds->IdentityDocument();
    EXPECT_EQ(document.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(document.status().message(),
                HasSubstr("/latest/dynamic/instance-identity/document"));
  }
}

TEST_F(AwsImdsTest, PublicAddressesAreOptional) {
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<std::optional<std::string>> hostname = imds->PublicHostname();
  ASSERT_TRUE(hostname.ok()) << hostname.status();
  EXPECT_EQ(*hostname, std::nullopt);
  absl::StatusOr<std::optional<std::string>> ipv4 = imds->PublicIpv4();
  ASSERT_TRUE(ipv4.ok()) << ipv4.status();
  EXPECT_EQ(*ipv4, std::nullopt);

  imds_.Route("/latest/meta-data/public-hostname", "ec2-1-2-3-4.compute.example");
  imds_.Route("/latest/meta-data/public-ipv4", "1.2.3.4");
  hostname = imds->PublicHostname();
  ASSERT_TRUE(hostname.ok()) << hostname.status();
  EXPECT_EQ(*hostname, "ec2-1-2-3-4.compute.example");
  ipv4 = imds->PublicIpv4();
  ASSERT_TRUE(ipv4.ok()) << ipv4.status();
  EXPECT_EQ(*ipv4, "1.2.3.4");

  imds_.Route("/latest/meta-data/public-ipv4", Respond(403, ""));
  EXPECT_EQ(imds->PublicIpv4().status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(AwsImdsTest, MissingTokenEndpointIsNotAnAbsentValue) {
  // A service without the token endpoint answers 404 to the PUT; that must not read as "this
  // instance has no public address".
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  server_.SetHandler([](const HttpRequest&) { return Respond(404, ""); });
  absl::StatusOr<std::optional<std::string>> ipv4 = imds->PublicIpv4();
  EXPECT_EQ(ipv4.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ipv4.status().message(), HasSubstr("/latest/api/token: http status 404"));
  EXPECT_EQ(imds->GetOnce("/meta-data/spot/termination-time").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(AwsImdsTest, SpotTerminationTimePresentOrAbsent) {
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  absl::StatusOr<std::optional<std::string>> when = imds->SpotTerminationTime();
  ASSERT_TRUE(when.ok()) << when.status();
  EXPECT_EQ(*when, std::nullopt);

  imds_.Route("/latest/meta-data/spot/termination-time", "2026-12-04T17:30:00Z");
  when = imds->SpotTerminationTime();
  ASSERT_TRUE(when.ok()) << when.status();
  EXPECT_EQ(*when, "2026-12-04T17:30:00Z");
}

TEST_F(AwsImdsTest, NoTokenAppearsInLogs) {
  imds_.Route("/latest/meta-data/a", "v");
  imds_.Route("/latest/meta-data/b", Respond(500, "oops"));
  imds_.FailTokens(1);
  auto imds = NewImds();
  ASSERT_NE(imds, nullptr);
  ASSERT_TRUE(imds->Get("/meta-data/a").ok());
  imds_.RejectGets(1);
  ASSERT_TRUE(imds->Get("/meta-data/a").ok());
  imds_.RejectGets(2);
  absl::StatusOr<MetadataResponse> polled = imds->GetOnce("/meta-data/a");
  ASSERT_TRUE(polled.ok()) << polled.status();
  EXPECT_EQ(polled->status, 401);
  EXPECT_EQ(imds->Get("/meta-data/b").status().code(), absl::StatusCode::kUnavailable);
  ASSERT_GE(imds_.issued(), 3);

  std::vector<std::string> lines = log_->lines();
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr(kTokenPrefix)));
    // Nothing had to be blanked by the logger either: the token was never formatted.
    EXPECT_THAT(line, Not(HasSubstr("[redacted]")));
  }
}

}  // namespace
}  // namespace runner::providers::metadata
