#include "server/taskcluster/http_transport.h"

#include <stdlib.h>

#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "curl/curl.h"

#include "server/common/logger.h"
#include "server/common/version.h"

namespace runner::taskcluster {
namespace {

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

Slist MakeSlist(const std::vector<std::string>& lines) {
  Slist list;
  for (const std::string& line : lines) {
    curl_slist* extended = curl_slist_append(list.get(), line.c_str());
    if (extended != nullptr) {
      list.release();
      list.reset(extended);
    }
  }
  return list;
}

std::string NoProxyList(ProxyPolicy proxy) {
  if (proxy != ProxyPolicy::kEnvironmentExceptLoopback) return "";
  const char* env = getenv("no_proxy");
  if (env == nullptr || *env == '\0') env = getenv("NO_PROXY");
  std::string list = env == nullptr ? "" : env;
  if (!list.empty()) list += ",";
  return list + "localhost,127.0.0.1,::1";
}

// Sets everything that depends on the request; the pointers it hands libcurl point into
// `request`, `headers`, `sink` and `error_buffer`.
void SetRequestOptions(CURL* curl, const TransferRequest& request, const Slist& headers,
                       BodySink* sink, char* error_buffer) {
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);

  static const std::string kNoBody;
  const std::string& method = request.method;
  bool has_body = request.body != nullptr;
  if (has_body || method == "POST") {
    const std::string& body = has_body ? *request.body : kNoBody;
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  }
  if (method == "GET" && !has_body) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
}

void LogRetry(const RetryOptions& options, common::LogLevel level, int attempt,
              const std::string& failure, absl::Duration delay) {
  common::Logger::Default().Log(
      level, options.component, options.event,
      {{"method", options.method},
       {"path", options.path},
       {"attempt", attempt},
       {"failure", failure},
       {"delay_ms", static_cast<int64_t>(absl::ToInt64Milliseconds(delay))}});
}

}  // namespace

bool TransferResult::ok() const { return kind == Kind::kResponse && status >= 200 && status < 300; }

bool TransferResult::retried() const {
  return kind == Kind::kTransport || kind == Kind::kTimeout ||
         (kind == Kind::kResponse && (status >= 500 || status == 429));
}

std::string TransferResult::Key() const {
  return absl::StrCat(static_cast<int>(kind), "/", status, "/", curl_code);
}

std::string TransferResult::Summary() const {
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

absl::StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Create(ProxyPolicy proxy) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* handle = curl_easy_init();
  if (handle == nullptr) return absl::InternalError("curl_easy_init failed");
  return std::unique_ptr<HttpTransport>(new HttpTransport(proxy, handle));
}

HttpTransport::HttpTransport(ProxyPolicy proxy, void* handle)
    : proxy_(proxy), no_proxy_(NoProxyList(proxy)), handle_(handle) {}

HttpTransport::~HttpTransport() {
  absl::MutexLock lock(&mu_);
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

void* HttpTransport::AcquireHandle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](void** handle) { return *handle != nullptr; }, &handle_));
  return std::exchange(handle_, nullptr);
}

void HttpTransport::ReleaseHandle(void* handle) {
  absl::MutexLock lock(&mu_);
  handle_ = handle;
}

TransferResult HttpTransport::Perform(const TransferRequest& request) {
  Slist headers = MakeSlist(request.header_lines);
  TransferResult result;
  BodySink sink{&result.body, request.max_response_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  std::string user_agent = absl::StrCat("worker-runner/", common::kVersion);

  CURL* curl = static_cast<CURL*>(AcquireHandle());
  // Reset keeps the connection cache, so kept-alive connections survive between calls.
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  if (proxy_ == ProxyPolicy::kNever) {
    // An empty proxy overrides any proxy from the environment.
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
  } else {
    curl_easy_setopt(curl, CURLOPT_NOPROXY, no_proxy_.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  SetRequestOptions(curl, request, headers, &sink, error_buffer);
  if (request.cancellation != nullptr) {
    // libcurl calls this about once a second, and more often while data flows; non-zero aborts.
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, request.cancellation);
    curl_easy_setopt(
        curl, CURLOPT_XFERINFOFUNCTION,
        +[](void* data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
          return static_cast<const common::Cancellation*>(data)->cancelled() ? 1 : 0;
        });
  }

  CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  // Drop pointers into this frame and the caller's before the handle is shared again.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
  ReleaseHandle(curl);

  if (code == CURLE_OK) {
    result.kind = TransferResult::Kind::kResponse;
  } else if (sink.overflow) {
    result.kind = TransferResult::Kind::kTooLarge;
  } else if (code == CURLE_OPERATION_TIMEDOUT) {
    result.kind = TransferResult::Kind::kTimeout;
  } else {
    result.kind = TransferResult::Kind::kTransport;
    result.curl_code = static_cast<int>(code);
    result.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  }
  return result;
}

absl::StatusCode CodeForHttpStatus(long status, StatusMapping mapping) {
  if (mapping == StatusMapping::kTaskclusterApi) {
    if (status == 400) return absl::StatusCode::kInvalidArgument;
    if (status == 409) return absl::StatusCode::kAlreadyExists;
  }
  switch (status) {
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    default:
      return absl::StatusCode::kFailedPrecondition;
  }
}

absl::StatusOr<TransferResult> RetryTransfer(
    const RetryOptions& options, absl::FunctionRef<absl::StatusOr<TransferResult>()> attempt,
    absl::FunctionRef<std::string(const TransferResult&)> describe) {
  Backoff backoff(options.backoff, options.clock, options.random);
  std::string last_key;
  bool warned_at_ceiling = false;
  auto cancelled = [&options] {
    return options.cancellation != nullptr && options.cancellation->cancelled();
  };
  for (int number = 1;; ++number) {
    if (cancelled()) return absl::CancelledError(absl::StrCat(options.what, ": cancelled"));
    absl::StatusOr<TransferResult> result = attempt();
    if (cancelled()) return absl::CancelledError(absl::StrCat(options.what, ": cancelled"));
    if (!result.ok() || result->ok() || !result->retried()) return result;

    std::optional<absl::Duration> delay = backoff.NextDelay();
    if (!delay.has_value()) {
      bool timed_out = result->kind == TransferResult::Kind::kTimeout;
      absl::StatusCode code =
          options.give_up == GiveUpCode::kDeadlineExceededAfterTimeout && timed_out
              ? absl::StatusCode::kDeadlineExceeded
              : absl::StatusCode::kUnavailable;
      return absl::Status(
          code, absl::StrCat(options.what, ": ", describe(*result), " (gave up after ", number,
                             " attempts in ", absl::FormatDuration(backoff.elapsed()), ")"));
    }

    // Warn when the failure changes or outlasts the growing delays.
    bool changed = number > 1 && result->Key() != last_key;
    bool persistent = backoff.at_ceiling() && !warned_at_ceiling;
    warned_at_ceiling = warned_at_ceiling || persistent;
    last_key = result->Key();
    // The first failure is shown at INFO, so an operator sees why start-up pauses; repeats of
    // the same failure stay at DEBUG until the warning.
    common::LogLevel level = changed || persistent ? common::LogLevel::kWarning
                             : number == 1         ? common::LogLevel::kInfo
                                                   : common::LogLevel::kDebug;
    LogRetry(options, level, number, result->Summary(), *delay);
    options.sleeper->Sleep(*delay);
  }
}

}  // namespace runner::taskcluster
