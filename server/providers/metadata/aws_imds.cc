#include "server/providers/metadata/aws_imds.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "server/common/logger.h"
#include "server/common/status_util.h"

namespace runner::providers::metadata {
namespace {

constexpr char kComponent[] = "metadata";
constexpr char kTokenPath[] = "/latest/api/token";
constexpr char kTokenHeader[] = "X-aws-ec2-metadata-token";
constexpr char kTokenTtlHeader[] = "X-aws-ec2-metadata-token-ttl-seconds";

// A token goes into a header verbatim, so it must be one printable word.
bool UsableToken(const std::string& token) {
  return !token.empty() &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// Parses `body` of `endpoint` as a JSON object; the body itself never appears in the error.
absl::StatusOr<nlohmann::json> ParseObject(absl::string_view endpoint, const std::string& body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("aws metadata ", endpoint, ": not a JSON object"));
  }
  return parsed;
}

absl::Status ReadString(const nlohmann::json& object, absl::string_view endpoint, const char* key,
                        std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("aws metadata ", endpoint, ": missing string field ", key));
  }
  *out = it->get<std::string>();
  return absl::OkStatus();
}

}  // namespace

MetadataClientOptions AwsImds::DefaultOptions() {
  MetadataClientOptions options;
  options.attempt_timeout = kAttemptTimeout;
  return options;
}

absl::StatusOr<std::unique_ptr<AwsImds>> AwsImds::Create(MetadataClientOptions options) {
  const common::Clock* clock = options.clock;
  absl::Duration attempt_timeout = options.attempt_timeout;
  RUNNER_ASSIGN_OR_RETURN(std::unique_ptr<MetadataClient> client,
                          MetadataClient::Create(kDefaultBaseUrl, std::move(options)));
  return std::unique_ptr<AwsImds>(new AwsImds(std::move(client), clock, attempt_timeout));
}

AwsImds::AwsImds(std::unique_ptr<MetadataClient> client, const common::Clock* clock,
                 absl::Duration attempt_timeout)
    : client_(std::move(client)), clock_(clock), attempt_timeout_(attempt_timeout) {}

absl::StatusOr<std::string> AwsImds::Token(bool retrying) {
  {
    absl::MutexLock lock(&mu_);
    if (!token_.empty() && token_expiry_ - clock_->Now() > kTokenRefreshMargin) return token_;
  }
  return FetchToken(retrying);
}

absl::StatusOr<std::string> AwsImds::FetchToken(bool retrying) {
  absl::StatusOr<std::string> token = RequestToken(retrying);
  // A missing token endpoint is a broken service, not a missing value: callers treat kNotFound
  // from a GET as "absent".
  if (token.status().code() == absl::StatusCode::kNotFound) {
    return absl::FailedPreconditionError(token.status().message());
  }
  return token;
}

absl::StatusOr<std::string> AwsImds::RequestToken(bool retrying) {
  // The expiry counts from before the request, so it can only err on the early side.
  absl::Time fetched_at = clock_->Now();
  MetadataHeaders headers = {{kTokenTtlHeader, absl::StrCat(absl::ToInt64Seconds(kTokenTtl))}};
  std::string token;
  if (retrying) {
    RUNNER_ASSIGN_OR_RETURN(token, client_->Put(kTokenPath, headers, ""));
  } else {
    RUNNER_ASSIGN_OR_RETURN(MetadataResponse response,
                            client_->PutOnce(kTokenPath, headers, "", attempt_timeout_));
    if (response.status < 200 || response.status > 299) {
      return HttpStatusError("PUT", kTokenPath, response.status);
    }
    token = std::move(response.body);
  }
  if (!UsableToken(token)) {
    return absl::FailedPreconditionError(
        absl::StrCat("metadata PUT ", kTokenPath, ": response is not a usable token"));
  }

  // Should a token ever reach a log line by another path, it is blanked there.
  common::Logger::Default().AddSecret(token);
  absl::MutexLock lock(&mu_);
  token_ = token;
  token_expiry_ = fetched_at + kTokenTtl;
  common::LogDebug(kComponent, "metadata token fetched",
                   {{"ttl_s", static_cast<int64_t>(absl::ToInt64Seconds(kTokenTtl))}});
  return token;
}

void AwsImds::DropToken(const std::string& rejected) {
  absl::MutexLock lock(&mu_);
  if (token_ == rejected) token_.clear();
}

absl::StatusOr<std::string> AwsImds::Get(absl::string_view path) {
  std::string full_path = absl::StrCat("/latest", path);
  for (int round = 1;; ++round) {
    RUNNER_ASSIGN_OR_RETURN(std::string token, Token(/*retrying=*/true));
    absl::StatusOr<std::string> body = client_->Get(full_path, {{kTokenHeader, token}});
    if (body.status().code() != absl::StatusCode::kUnauthenticated || round == 2) return body;

    DropToken(token);
    common::LogWarning(kComponent, "metadata token rejected, fetching a new one",
                       {{"path", full_path}});
  }
}

absl::StatusOr<MetadataResponse> AwsImds::GetOnce(absl::string_view path) {
  std::string full_path = absl::StrCat("/latest", path);
  for (int round = 1;; ++round) {
    RUNNER_ASSIGN_OR_RETURN(std::string token, Token(/*retrying=*/false));
    absl::StatusOr<MetadataResponse> response =
        client_->GetOnce(full_path, {{kTokenHeader, token}}, attempt_timeout_);
    if (!response.ok() || response->status != 401 || round == 2) return response;

    DropToken(token);
    common::LogWarning(kComponent, "metadata token rejected, fetching a new one",
                       {{"path", full_path}});
  }
}

absl::StatusOr<std::optional<std::string>> AwsImds::GetUnlessNotFound(absl::string_view path) {
  absl::StatusOr<std::string> body = Get(path);
  if (body.status().code() == absl::StatusCode::kNotFound) return std::nullopt;
  if (!body.ok()) return body.status();
  return std::optional<std::string>(*std::move(body));
}

absl::StatusOr<AwsUserData> AwsImds::UserData() {
  constexpr char kEndpoint[] = "/latest/user-data";
  RUNNER_ASSIGN_OR_RETURN(std::string body, Get("/user-data"));
  RUNNER_ASSIGN_OR_RETURN(nlohmann::json object, ParseObject(kEndpoint, body));
  AwsUserData data;
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "rootUrl", &data.root_url));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "workerPoolId", &data.worker_pool_id));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "providerId", &data.provider_id));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "workerGroup", &data.worker_group));
  return data;
}

absl::StatusOr<AwsIdentityDocument> AwsImds::IdentityDocument() {
  constexpr char kEndpoint[] = "/latest/dynamic/instance-identity/document";
  AwsIdentityDocument document;
  RUNNER_ASSIGN_OR_RETURN(document.raw, Get("/dynamic/instance-identity/document"));
  RUNNER_ASSIGN_OR_RETURN(nlohmann::json object, ParseObject(kEndpoint, document.raw));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "instanceId", &document.instance_id));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "imageId", &document.image_id));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "instanceType", &document.instance_type));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "region", &document.region));
  RUNNER_RETURN_IF_ERROR(
      ReadString(object, kEndpoint, "availabilityZone", &document.availability_zone));
  RUNNER_RETURN_IF_ERROR(ReadString(object, kEndpoint, "privateIp", &document.private_ip));
  return document;
}

absl::StatusOr<std::string> AwsImds::IdentitySignature() {
  return Get("/dynamic/instance-identity/signature");
}

absl::StatusOr<std::optional<std::string>> AwsImds::PublicHostname() {
  return GetUnlessNotFound("/meta-data/public-hostname");
}

absl::StatusOr<std::optional<std::string>> AwsImds::PublicIpv4() {
  return GetUnlessNotFound("/meta-data/public-ipv4");
}

absl::StatusOr<std::optional<std::string>> AwsImds::SpotTerminationTime() {
  return GetUnlessNotFound("/meta-data/spot/termination-time");
}

}  // namespace runner::providers::metadata
