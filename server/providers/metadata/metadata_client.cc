#include "server/providers/metadata/metadata_client.h"

#include <stdlib.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "curl/curl.h"

#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/common/version.h"
#include "server/taskcluster/url.h"

namespace runner::providers::metadata {
namespace {

constexpr char kComponent[] = "metadata";

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
    return 0;  // aborts the transfer
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

void LogRetry(common::LogLevel level, absl::string_view method, absl::string_view path, int attempt,
              const std::string& failure, absl::Duration delay) {
  common::Logger::Default().Log(
      level, kComponent, "metadata request failed, retrying",
      {{"method", method},
       {"path", Endpoint(path)},
       {"attempt", attempt},
       {"failure", failure},
       {"delay_ms", static_cast<int64_t>(absl::ToInt64Milliseconds(delay))}});
}

}  // namespace

absl::Status HttpStatusError(absl::string_view method, absl::string_view path, int status) {
  absl::StatusCode code = absl::StatusCode::kFailedPrecondition;
  if (status == 404) code = absl::StatusCode::kNotFound;
  if (status == 401) code = absl::StatusCode::kUnauthenticated;
  if (status == 403) code = absl::StatusCode::kPermissionDenied;
  return absl::Status(code, absl::StrCat(What(method, path), ": http status ", status));
}

struct MetadataClient::Attempt {
  enum class Kind { kResponse, kTransport, kTimeout, kTooLarge };
  Kind kind = Kind::kTransport;
  long status = 0;
  std::string body;
  int curl_code = 0;
  std::string error;  // libcurl's description of a transport failure

  bool ok() const { return kind == Kind::kResponse && status >= 200 && status < 300; }
  bool retried() const {
    return kind == Kind::kTransport || kind == Kind::kTimeout ||
           (kind == Kind::kResponse && (status >= 500 || status == 429));
  }
  // Identifies the kind of failure, ignoring details that vary per attempt (elapsed times).
  std::string Key() const {
    return absl::StrCat(static_cast<int>(kind), "/", status, "/", curl_code);
  }
  // A short description without any body text: safe for logs.
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

absl::StatusOr<std::unique_ptr<MetadataClient>> MetadataClient::Create(
    absl::string_view default_base_url, MetadataClientOptions options) {
  RUNNER_ASSIGN_OR_RETURN(std::string base_url,
                          ResolveBaseUrl(default_base_url, options.base_url_override));
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* handle = curl_easy_init();
  if (handle == nullptr)
    return absl::InternalError("create metadata client: curl_easy_init failed");
  return std::unique_ptr<MetadataClient>(
      new MetadataClient(std::move(base_url), std::move(options), handle));
}

MetadataClient::MetadataClient(std::string base_url, MetadataClientOptions options, void* handle)
    : base_url_(std::move(base_url)), options_(std::move(options)), handle_(handle) {}

MetadataClient::~MetadataClient() {
  absl::MutexLock lock(&mu_);
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
}

void* MetadataClient::AcquireHandle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](void** handle) { return *handle != nullptr; }, &handle_));
  return std::exchange(handle_, nullptr);
}

void MetadataClient::ReleaseHandle(void* handle) {
  absl::MutexLock lock(&mu_);
  handle_ = handle;
}

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
  taskcluster::Backoff backoff(options_.backoff, options_.clock, options_.random);
  std::string last_key;
  bool warned_at_ceiling = false;
  for (int attempt = 1;; ++attempt) {
    Attempt result = Send(method, path, headers, body, options_.attempt_timeout);
    if (result.ok()) return std::move(result.body);
    if (result.kind == Attempt::Kind::kTooLarge) {
      return absl::FailedPreconditionError(absl::StrCat(
          What(method, path), ": response larger than ", options_.max_response_bytes, " bytes"));
    }
    if (!result.retried()) return HttpStatusError(method, path, static_cast<int>(result.status));

    std::optional<absl::Duration> delay = backoff.NextDelay();
    if (!delay.has_value()) {
      return absl::UnavailableError(absl::StrCat(What(method, path), ": ", result.Summary(),
                                                 " (gave up after ", attempt, " attempts in ",
                                                 absl::FormatDuration(backoff.elapsed()), ")"));
    }

    // Quiet while a failure is new; warn when it changes or outlasts the growing delays.
    bool changed = attempt > 1 && result.Key() != last_key;
    bool persistent = backoff.at_ceiling() && !warned_at_ceiling;
    warned_at_ceiling = warned_at_ceiling || persistent;
    last_key = result.Key();
    LogRetry(changed || persistent ? common::LogLevel::kWarning : common::LogLevel::kDebug, method,
             path, attempt, result.Summary(), *delay);
    options_.sleeper->Sleep(*delay);
  }
}

absl::StatusOr<MetadataResponse> MetadataClient::Once(absl::string_view method,
                                                      absl::string_view path,
                                                      const MetadataHeaders& headers,
                                                      const std::string* body,
                                                      absl::Duration timeout) {
  RUNNER_RETURN_IF_ERROR(CheckRequest(method, path, headers));
  Attempt result = Send(method, path, headers, body, timeout);
  switch (result.kind) {
    case Attempt::Kind::kResponse:
      return MetadataResponse{static_cast<int>(result.status), std::move(result.body)};
    case Attempt::Kind::kTimeout:
      return absl::DeadlineExceededError(absl::StrCat(
          What(method, path), ": attempt timed out after ", absl::FormatDuration(timeout)));
    case Attempt::Kind::kTooLarge:
      return absl::FailedPreconditionError(absl::StrCat(
          What(method, path), ": response larger than ", options_.max_response_bytes, " bytes"));
    case Attempt::Kind::kTransport:
      break;
  }
  return absl::UnavailableError(absl::StrCat(What(method, path), ": ", result.Summary()));
}

MetadataClient::Attempt MetadataClient::Send(absl::string_view method, absl::string_view path,
                                             const MetadataHeaders& headers,
                                             const std::string* body, absl::Duration timeout) {
  Slist header_list;
  for (const auto& [name, value] : headers) {
    // "Name;" is how libcurl is told to send a header with an empty value.
    Append(&header_list, value.empty() ? absl::StrCat(name, ";") : absl::StrCat(name, ": ", value));
  }
  // Empty values stop libcurl from adding its own.
  Append(&header_list, "Expect:");
  Append(&header_list, "Content-Type:");

  std::string url = absl::StrCat(base_url_, path);
  std::string method_text(method);
  std::string user_agent = absl::StrCat("worker-runner/", common::kVersion);
  Attempt result;
  BodySink sink{&result.body, options_.max_response_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  long timeout_ms = std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(timeout)));

  CURL* curl = static_cast<CURL*>(AcquireHandle());
  // Reset keeps the connection cache, so kept-alive connections survive between calls.
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  // The metadata service is link-local: an empty proxy overrides any proxy from the environment.
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  if (body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body->c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
  // Drop pointers into this frame before the handle is shared again.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, nullptr);
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

}  // namespace runner::providers::metadata
