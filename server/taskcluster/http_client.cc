#include "server/taskcluster/http_client.h"

#include <stdlib.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "curl/curl.h"

#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/common/version.h"
#include "server/taskcluster/hawk.h"
#include "server/taskcluster/url.h"

namespace runner::taskcluster {
namespace {

constexpr char kComponent[] = "taskcluster";
// Service messages and non-JSON bodies are cut to this many bytes in error messages.
constexpr size_t kMaxExcerpt = 200;

struct BodySink {
  std::string* body;
  size_t max_bytes;
  bool overflow = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  size_t bytes = size * count;
  if (sink->body->size() + bytes > sink->max_bytes) {
    sink->overflow = true;
    return 0;  // makes libcurl abort the transfer
  }
  sink->body->append(data, bytes);
  return bytes;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

void Append(Slist* list, const std::string& line) {
  curl_slist* extended = curl_slist_append(list->get(), line.c_str());
  if (extended != nullptr) {
    list->release();
    list->reset(extended);
  }
}

absl::StatusCode CodeForHttpStatus(long status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    default:
      return absl::StatusCode::kFailedPrecondition;
  }
}

bool IsRetriedHttpStatus(long status) { return status >= 500 || status == 429; }

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

std::string NoProxyList() {
  // Loopback is never sent through a proxy from the environment.
  const char* env = getenv("no_proxy");
  if (env == nullptr || *env == '\0') env = getenv("NO_PROXY");
  std::string list = env == nullptr ? "" : env;
  if (!list.empty()) list += ",";
  return list + "localhost,127.0.0.1,::1";
}

absl::StatusOr<nlohmann::json> DecodeBody(absl::string_view what, const std::string& body) {
  if (absl::StripAsciiWhitespace(body).empty()) return nlohmann::json::object();
  nlohmann::json decoded = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (decoded.is_discarded()) {
    return absl::InternalError(absl::StrCat(what, ": invalid JSON in response"));
  }
  return decoded;
}

void LogRetry(common::LogLevel level, absl::string_view method, absl::string_view target,
              int attempt, const std::string& failure, absl::Duration delay) {
  common::Logger::Default().Log(
      level, kComponent, "request failed, retrying",
      {{"method", method},
       {"path", target},
       {"attempt", attempt},
       {"failure", failure},
       {"delay_ms", static_cast<int64_t>(absl::ToInt64Milliseconds(delay))}});
}

}  // namespace

struct HttpClient::Attempt {
  enum class Kind { kResponse, kTransport, kTimeout, kTooLarge };
  Kind kind = Kind::kTransport;
  long status = 0;
  std::string body;
  int curl_code = 0;
  std::string error;  // libcurl's description of a transport failure

  // Identifies the kind of failure; unlike Summary() it ignores details that vary per attempt
  // (libcurl's texts carry elapsed times).
  std::string Key() const {
    return absl::StrCat(static_cast<int>(kind), "/", status, "/", curl_code);
  }

  bool ok() const { return kind == Kind::kResponse && status >= 200 && status < 300; }
  bool retried() const {
    return kind == Kind::kTransport || kind == Kind::kTimeout ||
           (kind == Kind::kResponse && IsRetriedHttpStatus(status));
  }
  // A short stable description, without any body text: safe for logs.
  std::string Summary() const {
    switch (kind) {
      case Kind::kResponse:
        return absl::StrCat("http status ", status);
      case Kind::kTransport:
        return absl::StrCat("transport error: ", error);
      case Kind::kTimeout:
        return "attempt timed out";
      case Kind::kTooLarge:
        return "response too large";
    }
    return "";
  }
};

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(absl::string_view root_url,
                                                               HttpClientOptions options) {
  RUNNER_RETURN_IF_ERROR(common::Annotate(ParseUrl(root_url).status(), "create http client"));
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* handle = curl_easy_init();
  if (handle == nullptr) return absl::InternalError("create http client: curl_easy_init failed");
  return std::unique_ptr<HttpClient>(
      new HttpClient(std::string(root_url), std::move(options), handle));
}

HttpClient::HttpClient(std::string root_url, HttpClientOptions options, void* handle)
    : root_url_(std::move(root_url)),
      options_(std::move(options)),
      no_proxy_(NoProxyList()),
      handle_(handle) {}

HttpClient::~HttpClient() {
  absl::MutexLock lock(&mu_);
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

void* HttpClient::AcquireHandle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](void** handle) { return *handle != nullptr; }, &handle_));
  return std::exchange(handle_, nullptr);
}

void HttpClient::ReleaseHandle(void* handle) {
  absl::MutexLock lock(&mu_);
  handle_ = handle;
}

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

  Backoff backoff(options_.backoff, options_.clock, options_.random);
  std::string last_key;
  bool warned_at_ceiling = false;
  for (int attempt = 1;; ++attempt) {
    // Every attempt gets its own ts and nonce: the server rejects a replayed nonce.
    std::string authorization;
    if (credentials != nullptr) {
      RUNNER_ASSIGN_OR_RETURN(std::string nonce, NewHawkNonce());
      int64_t ts = absl::ToUnixSeconds(options_.clock->Now());
      RUNNER_ASSIGN_OR_RETURN(authorization,
                              HawkAuthorizationHeader(*credentials, method, parsed, ts, nonce));
    }

    Attempt result = Send(method, url, request.body.has_value(), body, authorization);
    if (result.ok()) return DecodeBody(what, result.body);

    std::string summary = result.Summary();
    std::string detail = summary;
    if (result.kind == Attempt::Kind::kResponse) {
      std::string described = DescribeErrorBody(result.body, credentials);
      if (!described.empty()) absl::StrAppend(&detail, ": ", described);
    }
    if (!result.retried()) {
      absl::StatusCode code = result.kind == Attempt::Kind::kResponse
                                  ? CodeForHttpStatus(result.status)
                                  : absl::StatusCode::kInternal;
      return absl::Status(code, absl::StrCat(what, ": ", detail));
    }

    std::optional<absl::Duration> delay = backoff.NextDelay();
    if (!delay.has_value()) {
      absl::StatusCode code = result.kind == Attempt::Kind::kTimeout
                                  ? absl::StatusCode::kDeadlineExceeded
                                  : absl::StatusCode::kUnavailable;
      return absl::Status(
          code, absl::StrCat(what, ": ", detail, " (gave up after ", attempt, " attempts in ",
                             absl::FormatDuration(backoff.elapsed()), ")"));
    }

    // Quiet while a failure is new; warn when it changes or outlasts the growing delays.
    bool changed = attempt > 1 && result.Key() != last_key;
    bool persistent = backoff.at_ceiling() && !warned_at_ceiling;
    warned_at_ceiling = warned_at_ceiling || persistent;
    last_key = result.Key();
    LogRetry(changed || persistent ? common::LogLevel::kWarning : common::LogLevel::kDebug, method,
             target, attempt, summary, *delay);
    options_.sleeper->Sleep(*delay);
  }
}

HttpClient::Attempt HttpClient::Send(const std::string& method, const std::string& url,
                                     bool has_body, const std::string& body,
                                     const std::string& authorization) {
  Slist headers;
  Append(&headers, "Accept: application/json");
  // An empty value stops libcurl from adding its own header.
  Append(&headers, has_body ? "Content-Type: application/json" : "Content-Type:");
  Append(&headers, "Expect:");
  if (!authorization.empty()) Append(&headers, absl::StrCat("Authorization: ", authorization));

  Attempt result;
  BodySink sink{&result.body, options_.max_response_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  std::string user_agent = absl::StrCat("worker-runner/", common::kVersion);

  CURL* curl = static_cast<CURL*>(AcquireHandle());
  // Reset keeps the connection cache, so keep-alive connections survive between calls.
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, no_proxy_.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.attempt_timeout)));
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (has_body || method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  }
  if (method == "GET" && !has_body) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  // Drop pointers into this frame before the handle is shared again.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  ReleaseHandle(curl);

  if (code == CURLE_OK) {
    result.kind = Attempt::Kind::kResponse;
  } else if (sink.overflow) {
    result.kind = Attempt::Kind::kTooLarge;
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    result.kind = Attempt::Kind::kTimeout;
  } else {
    result.kind = Attempt::Kind::kTransport;
    result.curl_code = static_cast<int>(code);
    result.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  }
  return result;
}

}  // namespace runner::taskcluster
