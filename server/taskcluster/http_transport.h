#ifndef RUNNER_SERVER_TASKCLUSTER_HTTP_TRANSPORT_H_
#define RUNNER_SERVER_TASKCLUSTER_HTTP_TRANSPORT_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/taskcluster/backoff.h"

namespace runner::taskcluster {

// The outcome of one transfer: a response with any status, or why none arrived.
struct TransferResult {
  enum class Kind { kResponse, kTransport, kTimeout, kTooLarge };
  Kind kind = Kind::kTransport;
  long status = 0;    // the HTTP status of a kResponse
  std::string body;   // as received, for any status
  int curl_code = 0;  // the libcurl code of a kTransport
  std::string error;  // libcurl's description of a kTransport

  // A 2xx response.
  bool ok() const;
  // Worth another attempt: transport errors, timeouts, 5xx and 429.
  bool retried() const;
  // Identifies the kind of failure; unlike Summary() it ignores details that vary per attempt
  // (libcurl's texts carry elapsed times).
  std::string Key() const;
  // A short stable description without any body text: safe for logs and error messages.
  std::string Summary() const;
};

// Whether a transfer may go through a proxy named by the environment (http_proxy and friends).
enum class ProxyPolicy {
  kEnvironmentExceptLoopback,  // yes, but never for localhost, 127.0.0.1 or ::1
  kNever,                      // no, whatever the environment says
};

struct TransferRequest {
  std::string method;                     // upper case: "GET", "PUT", "POST", ...
  std::string url;                        // absolute http(s) URL
  std::vector<std::string> header_lines;  // as libcurl takes them ("Name: value"), in order
  const std::string* body = nullptr;      // not owned; nullptr sends no body (POST sends "")
  absl::Duration timeout;                 // the whole transfer; zero means no limit
  size_t max_response_bytes = 0;          // a longer body aborts the transfer as kTooLarge
  // Not owned; when set and cancelled, the transfer is aborted (a transport failure).
  const common::Cancellation* cancellation = nullptr;
};

// Runs HTTP transfers over one reused libcurl handle, never following redirects, so that
// kept-alive connections survive between calls. Thread-safe; concurrent transfers are served one
// at a time and no lock is held while a transfer runs.
class HttpTransport {
 public:
  // The environment's proxy settings are read once, here. kInternal when libcurl cannot make a
  // handle.
  static absl::StatusOr<std::unique_ptr<HttpTransport>> Create(ProxyPolicy proxy);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Sends `request` once and blocks until the answer, a failure or the timeout.
  TransferResult Perform(const TransferRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  HttpTransport(ProxyPolicy proxy, void* handle);

  // Waits until no other transfer holds the handle and takes it out; ReleaseHandle puts it back.
  void* AcquireHandle() ABSL_LOCKS_EXCLUDED(mu_);
  void ReleaseHandle(void* handle) ABSL_LOCKS_EXCLUDED(mu_);

  const ProxyPolicy proxy_;
  const std::string no_proxy_;  // with kEnvironmentExceptLoopback: hosts never proxied

  absl::Mutex mu_;
  // The CURL easy handle; nullptr while a transfer has it out.
  void* handle_ ABSL_GUARDED_BY(mu_);
};

// How a non-2xx HTTP status maps to a code. Both map 401 kUnauthenticated, 403
// kPermissionDenied, 404 kNotFound and anything else kFailedPrecondition; Taskcluster APIs also
// use 400 for a bad request (kInvalidArgument) and 409 for a conflict (kAlreadyExists).
enum class StatusMapping { kPlain, kTaskclusterApi };
absl::StatusCode CodeForHttpStatus(long status, StatusMapping mapping);

// The code of an error after the backoff budget is spent.
enum class GiveUpCode {
  kUnavailable,                  // always
  kDeadlineExceededAfterTimeout  // when the last attempt timed out, else kUnavailable
};

// The schedule, logging and give-up error of RetryTransfer.
struct RetryOptions {
  BackoffPolicy backoff;
  const common::Clock* clock = nullptr;  // not owned
  RandomSource* random = nullptr;        // not owned
  Sleeper* sleeper = nullptr;            // not owned
  // Not owned; when set, checked before each attempt and after each wait: once cancelled,
  // RetryTransfer returns kCancelled.
  const common::Cancellation* cancellation = nullptr;
  GiveUpCode give_up = GiveUpCode::kUnavailable;
  // Retry log lines: `component` and `event`, with fields method, path, attempt, failure (the
  // Summary()) and delay_ms. `path` must carry no query.
  std::string component;
  std::string event;
  std::string method;
  std::string path;
  std::string what;  // puts "<what>: " in front of the give-up error
};

// Calls `attempt` until it returns an error or a result that is ok() or not retried(), which is
// returned, sleeping between attempts as `options.backoff` says. The first failure is logged at
// DEBUG, later ones at WARNING only when the failure changes or first outlasts the backoff
// ceiling. Blocks. Once the budget is spent, returns `options.give_up`'s code with
// "<what>: <describe(last result)> (gave up after N attempts in D)".
absl::StatusOr<TransferResult> RetryTransfer(
    const RetryOptions& options, absl::FunctionRef<absl::StatusOr<TransferResult>()> attempt,
    absl::FunctionRef<std::string(const TransferResult&)> describe);

}  // namespace runner::taskcluster

#endif  // RUNNER_SERVER_TASKCLUSTER_HTTP_TRANSPORT_H_
