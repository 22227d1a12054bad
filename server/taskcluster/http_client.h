#ifndef RUNNER_SERVER_TASKCLUSTER_HTTP_CLIENT_H_
#define RUNNER_SERVER_TASKCLUSTER_HTTP_CLIENT_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "server/common/clock.h"
#include "server/taskcluster/backoff.h"
#include "server/taskcluster/credentials.h"
#include "server/taskcluster/http_transport.h"

namespace runner::taskcluster {

struct HttpClientOptions {
  absl::Duration attempt_timeout = absl::Seconds(60);  // whole transfer of one attempt
  BackoffPolicy backoff;
  // Not owned; each must outlive the client.
  const common::Clock* clock = common::Clock::Real();  // also gives the Hawk ts
  RandomSource* random = RandomSource::Real();         // backoff jitter
  Sleeper* sleeper = Sleeper::Real();                  // waits between attempts
  size_t max_response_bytes = 16 * 1024 * 1024;
  // Not owned; once cancelled, calls end with kCancelled instead of waiting out their budget.
  const common::Cancellation* cancellation = nullptr;
};

// One call of a Taskcluster service API.
struct ApiRequest {
  std::string method;                        // "GET", "POST", "DELETE", ...
  std::string service;                       // "worker-manager", "secrets"
  std::string path;                          // already escaped, relative to /api/<service>/v1/
  std::optional<nlohmann::json> body;        // sent as compact JSON; nullopt sends no body
  const Credentials* credentials = nullptr;  // not owned; nullptr sends no Authorization
};

// Calls Taskcluster APIs under one root URL over a single reused libcurl handle. Thread-safe;
// concurrent calls are served one at a time.
class HttpClient {
 public:
  // kInvalidArgument when `root_url` is not an http(s) URL.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(absl::string_view root_url,
                                                            HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request`, signing every attempt afresh and retrying transport errors, 5xx and 429
  // within the backoff budget; redirects are not followed. Blocks. Returns the decoded 2xx body
  // (an empty body as an empty object). Errors: 400 kInvalidArgument, 401 kUnauthenticated,
  // 403 kPermissionDenied, 404 kNotFound, 409 kAlreadyExists, other non-2xx kFailedPrecondition;
  // budget spent kUnavailable, or kDeadlineExceeded when the last attempt timed out; a 2xx body
  // that is not JSON, or a body over `max_response_bytes`, kInternal; unusable credentials
  // kInvalidArgument (nothing is sent).
  absl::StatusOr<nlohmann::json> Call(const ApiRequest& request);

 private:
  HttpClient(std::string root_url, HttpClientOptions options,
             std::unique_ptr<HttpTransport> transport);

  // One attempt; `body` is sent when non-null, `authorization` when non-empty.
  TransferResult Send(const std::string& method, const std::string& url, const std::string* body,
                      const std::string& authorization);

  const std::string root_url_;
  const HttpClientOptions options_;
  // Keeps environment proxies, except for loopback hosts.
  const std::unique_ptr<HttpTransport> transport_;
};

}  // namespace runner::taskcluster

#endif  // RUNNER_SERVER_TASKCLUSTER_HTTP_CLIENT_H_
