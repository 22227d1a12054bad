#include "server/providers/metadata/metadata_client.h"

#include <stdlib.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/taskcluster/url.h"

namespace runner::providers::metadata {
namespace {

constexpr char kComponent[] = "metadata";

using taskcluster::TransferResult;

// The path as it may appear in logs and errors: the query may carry caller data.
absl::string_view Endpoint(absl::string_view path) { return path.substr(0, path.find('?')); }

std::string What(absl::string_view method, absl::string_view path) {
  return absl::StrCat("metadata ", method, " ", Endpoint(path));
}

bool HasLineBreakOrNul(absl::string_view text) {
  return text.find_first_of(absl::string_view("\r\n\0", 3)) != absl::string_view::npos;
}

absl::Status CheckRequest(absl::string_view method, absl::string_view path,
                          const MetadataHeaders& headers) {
  if (!absl::StartsWith(path, "/") || HasLineBreakOrNul(path) ||
      path.find_first_of(" #") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(What(method, path), ": invalid path"));
  }
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(":; ") != std::string::npos || HasLineBreakOrNul(name) ||
        HasLineBreakOrNul(value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(What(method, path), ": invalid header ", common::EscapeForLog(name)));
    }
  }
  return absl::OkStatus();
}

// Splits an absolute http(s) URL after its authority: "http://h:1/a/b" → {"http://h:1", "/a/b"}.
absl::StatusOr<std::pair<std::string, std::string>> SplitOrigin(absl::string_view url) {
  RUNNER_RETURN_IF_ERROR(taskcluster::ParseUrl(url).status());
  size_t authority = url.find("://") + 3;
  size_t path = url.find_first_of("/?#", authority);
  if (path == absl::string_view::npos) path = url.size();
  return std::make_pair(std::string(url.substr(0, path)), std::string(url.substr(path)));
}

absl::StatusOr<std::string> ResolveBaseUrl(absl::string_view default_base,
                                           const std::optional<std::string>& explicit_override) {
  auto base = SplitOrigin(default_base);
  if (!base.ok()) return common::Annotate(base.status(), "metadata base url");
  std::string base_path(absl::StripSuffix(base->second, "/"));
  if (base_path.find_first_of("?#") != std::string::npos) {
    return absl::InvalidArgumentError("metadata base url: has a query or fragment");
  }

  std::optional<std::string> override_url = explicit_override;
  std::string source = "metadata base url override";
  if (!override_url.has_value()) {
    const char* env = getenv(MetadataClient::kBaseUrlEnv);
    if (env == nullptr || *env == '\0') return base->first + base_path;
    override_url = env;
    source = MetadataClient::kBaseUrlEnv;
  }

  auto replacement = SplitOrigin(*override_url);
  if (!replacement.ok()) return common::Annotate(replacement.status(), source);
  // Only scheme, host and port are replaced; a path here would silently be dropped.
  if (!replacement->second.empty() && replacement->second != "/") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": must be scheme://host[:port] without a path or query"));
  }
  return replacement->first + base_path;
}

}  // namespace

absl::Status HttpStatusError(absl::string_view method, absl::string_view path, int status) {
  return absl::Status(taskcluster::CodeForHttpStatus(status, taskcluster::StatusMapping::kPlain),
                      absl::StrCat(What(method, path), ": http status ", status));
}

absl::StatusOr<std::unique_ptr<MetadataClient>> MetadataClient::Create(
    absl::string_view default_base_url, MetadataClientOptions options) {
  RUNNER_ASSIGN_OR_RETURN(std::string base_url,
                          ResolveBaseUrl(default_base_url, options.base_url_override));
  absl::StatusOr<std::unique_ptr<taskcluster::HttpTransport>> transport =
      taskcluster::HttpTransport::Create(taskcluster::ProxyPolicy::kNever);
  if (!transport.ok()) return common::Annotate(transport.status(), "create metadata client");
  return std::unique_ptr<MetadataClient>(
      new MetadataClient(std::move(base_url), std::move(options), *std::move(transport)));
}

MetadataClient::MetadataClient(std::string base_url, MetadataClientOptions options,
                               std::unique_ptr<taskcluster::HttpTransport> transport)
    : base_url_(std::move(base_url)),
      options_(std::move(options)),
      transport_(std::move(transport)) {}

MetadataClient::~MetadataClient() = default;

absl::StatusOr<std::string> MetadataClient::Get(absl::string_view path,
                                                const MetadataHeaders& headers) {
  return Call("GET", path, headers, nullptr);
}

absl::StatusOr<std::string> MetadataClient::Put(absl::string_view path,
                                                const MetadataHeaders& headers,
                                                absl::string_view body) {
  std::string copy(body);
  return Call("PUT", path, headers, &copy);
}

absl::StatusOr<MetadataResponse> MetadataClient::GetOnce(absl::string_view path,
                                                         const MetadataHeaders& headers,
                                                         absl::Duration timeout) {
  return Once("GET", path, headers, nullptr, timeout);
}

absl::StatusOr<MetadataResponse> MetadataClient::PutOnce(absl::string_view path,
                                                         const MetadataHeaders& headers,
                                                         absl::string_view body,
                                                         absl::Duration timeout) {
  std::string copy(body);
  return Once("PUT", path, headers, &copy, timeout);
}

absl::StatusOr<std::string> MetadataClient::Call(absl::string_view method, absl::string_view path,
                                                 const MetadataHeaders& headers,
                                                 const std::string* body) {
  RUNNER_RETURN_IF_ERROR(CheckRequest(method, path, headers));
  taskcluster::RetryOptions retry;
  retry.backoff = options_.backoff;
  retry.clock = options_.clock;
  retry.random = options_.random;
  retry.sleeper = options_.sleeper;
  retry.cancellation = options_.cancellation;
  retry.give_up = taskcluster::GiveUpCode::kUnavailable;
  retry.component = kComponent;
  retry.event = "metadata request failed, retrying";
  retry.method = std::string(method);
  retry.path = std::string(Endpoint(path));
  retry.what = What(method, path);
  absl::StatusOr<TransferResult> result = taskcluster::RetryTransfer(
      retry,
      [&]() -> absl::StatusOr<TransferResult> {
        return Send(method, path, headers, body, options_.attempt_timeout);
      },
      [](const TransferResult& failed) { return failed.Summary(); });
  if (!result.ok()) return result.status();
  if (result->ok()) return std::move(result->body);
  if (result->kind == TransferResult::Kind::kTooLarge) {
    return absl::FailedPreconditionError(absl::StrCat(What(method, path), ": response larger than ",
                                                      options_.max_response_bytes, " bytes"));
  }
  return HttpStatusError(method, path, static_cast<int>(result->status));
}

absl::StatusOr<MetadataResponse> MetadataClient::Once(absl::string_view method,
                                                      absl::string_view path,
                                                      const MetadataHeaders& headers,
                                                      const std::string* body,
                                                      absl::Duration timeout) {
  RUNNER_RETURN_IF_ERROR(CheckRequest(method, path, headers));
  TransferResult result = Send(method, path, headers, body, timeout);
  switch (result.kind) {
    case TransferResult::Kind::kResponse:
      return MetadataResponse{static_cast<int>(result.status), std::move(result.body)};
    case TransferResult::Kind::kTimeout:
      return absl::DeadlineExceededError(absl::StrCat(
          What(method, path), ": attempt timed out after ", absl::FormatDuration(timeout)));
    case TransferResult::Kind::kTooLarge:
      return absl::FailedPreconditionError(absl::StrCat(
          What(method, path), ": response larger than ", options_.max_response_bytes, " bytes"));
    case TransferResult::Kind::kTransport:
      break;
  }
  return absl::UnavailableError(absl::StrCat(What(method, path), ": ", result.Summary()));
}

TransferResult MetadataClient::Send(absl::string_view method, absl::string_view path,
                                    const MetadataHeaders& headers, const std::string* body,
                                    absl::Duration timeout) {
  taskcluster::TransferRequest request;
  for (const auto& [name, value] : headers) {
    // "Name;" is how libcurl is told to send a header with an empty value.
    request.header_lines.push_back(value.empty() ? absl::StrCat(name, ";")
                                                 : absl::StrCat(name, ": ", value));
  }
  // Empty values stop libcurl from adding its own.
  request.header_lines.push_back("Expect:");
  request.header_lines.push_back("Content-Type:");
  request.method = std::string(method);
  request.url = absl::StrCat(base_url_, path);
  request.body = body;
  // Zero would mean no limit at all to libcurl.
  request.timeout = std::max(timeout, absl::Milliseconds(1));
  request.max_response_bytes = options_.max_response_bytes;
  request.cancellation = options_.cancellation;
  return transport_->Perform(request);
}

}  // namespace runner::providers::metadata
