#include "server/taskcluster/http_client.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/taskcluster/hawk.h"
#include "server/taskcluster/url.h"

namespace runner::taskcluster {
namespace {

constexpr char kComponent[] = "taskcluster";
// Service messages and non-JSON bodies are cut to this many bytes in error messages.
constexpr size_t kMaxExcerpt = 200;

// One line, length-capped, with the access token (should a service ever echo it) blanked out.
std::string Excerpt(absl::string_view text, const Credentials* credentials) {
  bool truncated = text.size() > kMaxExcerpt;
  std::string out = common::EscapeForLog(text.substr(0, kMaxExcerpt));
  if (credentials != nullptr && !credentials->access_token.empty()) {
    out = absl::StrReplaceAll(out, {{credentials->access_token, "[redacted]"}});
  }
  if (truncated) absl::StrAppend(&out, "...");
  return out;
}

// Describes a non-2xx body: Taskcluster's `code: message` (first paragraph of the message) when
// the body is its JSON error form, else a short excerpt of the raw text.
std::string DescribeErrorBody(const std::string& body, const Credentials* credentials) {
  if (body.empty()) return "";
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("code") && parsed["code"].is_string()) {
    std::string text = parsed["code"].get<std::string>();
    if (parsed.contains("message") && parsed["message"].is_string()) {
      std::string message = parsed["message"].get<std::string>();
      message = message.substr(0, message.find("\n\n"));
      absl::StrAppend(&text, ": ", message);
    }
    return Excerpt(text, credentials);
  }
  return absl::StrCat("body: ", Excerpt(body, credentials));
}

// A failed attempt for error messages: its summary, then what the service said, if anything.
std::string Describe(const TransferResult& failed, const Credentials* credentials) {
  std::string detail = failed.Summary();
  if (failed.kind == TransferResult::Kind::kResponse) {
    std::string described = DescribeErrorBody(failed.body, credentials);
    if (!described.empty()) absl::StrAppend(&detail, ": ", described);
  }
  return detail;
}

absl::StatusOr<nlohmann::json> DecodeBody(absl::string_view what, const std::string& body) {
  if (absl::StripAsciiWhitespace(body).empty()) return nlohmann::json::object();
  nlohmann::json decoded = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (decoded.is_discarded()) {
    return absl::InternalError(absl::StrCat(what, ": invalid JSON in response"));
  }
  return decoded;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(absl::string_view root_url,
                                                               HttpClientOptions options) {
  RUNNER_RETURN_IF_ERROR(common::Annotate(ParseUrl(root_url).status(), "create http client"));
  absl::StatusOr<std::unique_ptr<HttpTransport>> transport =
      HttpTransport::Create(ProxyPolicy::kEnvironmentExceptLoopback);
  if (!transport.ok()) return common::Annotate(transport.status(), "create http client");
  return std::unique_ptr<HttpClient>(
      new HttpClient(std::string(root_url), std::move(options), *std::move(transport)));
}

HttpClient::HttpClient(std::string root_url, HttpClientOptions options,
                       std::unique_ptr<HttpTransport> transport)
    : root_url_(std::move(root_url)),
      options_(std::move(options)),
      transport_(std::move(transport)) {}

HttpClient::~HttpClient() = default;

absl::StatusOr<nlohmann::json> HttpClient::Call(const ApiRequest& request) {
  std::string method = absl::AsciiStrToUpper(request.method);
  RUNNER_ASSIGN_OR_RETURN(std::string url, ServiceUrl(root_url_, request.service, request.path));
  RUNNER_ASSIGN_OR_RETURN(ParsedUrl parsed, ParseUrl(url));
  std::string target = parsed.request_target.substr(0, parsed.request_target.find('?'));
  std::string what = absl::StrCat("taskcluster request ", method, " ", target);
  if (method.empty() || !std::all_of(method.begin(), method.end(), absl::ascii_isupper)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": invalid method"));
  }

  const Credentials* credentials = request.credentials;
  if (credentials != nullptr) {
    common::Logger::Default().AddSecret(credentials->access_token);
    common::Logger::Default().AddSecret(credentials->certificate);
  }
  std::string body;
  if (request.body.has_value()) {
    body = request.body->dump(-1, ' ', /*ensure_ascii=*/false,
                              nlohmann::json::error_handler_t::replace);
  }

  RetryOptions retry;
  retry.backoff = options_.backoff;
  retry.clock = options_.clock;
  retry.random = options_.random;
  retry.sleeper = options_.sleeper;
  retry.cancellation = options_.cancellation;
  retry.give_up = GiveUpCode::kDeadlineExceededAfterTimeout;
  retry.component = kComponent;
  retry.event = "request failed, retrying";
  retry.method = method;
  retry.path = target;
  retry.what = what;
  const std::string* sent_body = request.body.has_value() ? &body : nullptr;
  absl::StatusOr<TransferResult> result = RetryTransfer(
      retry,
      [&]() -> absl::StatusOr<TransferResult> {
        // Every attempt gets its own ts and nonce: the server rejects a replayed nonce.
        std::string authorization;
        if (credentials != nullptr) {
          RUNNER_ASSIGN_OR_RETURN(std::string nonce, NewHawkNonce());
          int64_t ts = absl::ToUnixSeconds(options_.clock->Now());
          RUNNER_ASSIGN_OR_RETURN(authorization,
                                  HawkAuthorizationHeader(*credentials, method, parsed, ts, nonce));
        }
        return Send(method, url, sent_body, authorization);
      },
      [&](const TransferResult& failed) { return Describe(failed, credentials); });
  if (!result.ok()) return result.status();
  if (result->ok()) return DecodeBody(what, result->body);

  absl::StatusCode code = result->kind == TransferResult::Kind::kResponse
                              ? CodeForHttpStatus(result->status, StatusMapping::kTaskclusterApi)
                              : absl::StatusCode::kInternal;
  return absl::Status(code, absl::StrCat(what, ": ", Describe(*result, credentials)));
}

TransferResult HttpClient::Send(const std::string& method, const std::string& url,
                                const std::string* body, const std::string& authorization) {
  TransferRequest request;
  request.method = method;
  request.url = url;
  request.header_lines = {
      "Accept: application/json",
      // An empty value stops libcurl from adding its own header.
      body != nullptr ? "Content-Type: application/json" : "Content-Type:", "Expect:"};
  if (!authorization.empty()) {
    request.header_lines.push_back(absl::StrCat("Authorization: ", authorization));
  }
  request.body = body;
  request.timeout = options_.attempt_timeout;
  request.max_response_bytes = options_.max_response_bytes;
  request.cancellation = options_.cancellation;
  return transport_->Perform(request);
}

}  // namespace runner::taskcluster
