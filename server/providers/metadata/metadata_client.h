#ifndef RUNNER_SERVER_PROVIDERS_METADATA_METADATA_CLIENT_H_
#define RUNNER_SERVER_PROVIDERS_METADATA_METADATA_CLIENT_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/taskcluster/backoff.h"
#include "server/taskcluster/http_transport.h"

namespace runner::providers::metadata {

// Request headers as (name, value) pairs, sent in order. Values are never logged.
using MetadataHeaders = std::vector<std::pair<std::string, std::string>>;

struct MetadataClientOptions {
  absl::Duration attempt_timeout = absl::Seconds(10);  // whole transfer of one attempt
  taskcluster::BackoffPolicy backoff;
  // Not owned; each must outlive the client.
  const common::Clock* clock = common::Clock::Real();
  taskcluster::RandomSource* random = taskcluster::RandomSource::Real();
  taskcluster::Sleeper* sleeper = taskcluster::Sleeper::Real();
  // Not owned; when set and cancelled, transfers are aborted (kUnavailable) and retries stop
  // (kCancelled).
  const common::Cancellation* cancellation = nullptr;
  size_t max_response_bytes = 1024 * 1024;
  // When set, replaces the scheme, host and port of the default base URL, as
  // WORKER_RUNNER_METADATA_URL does, and takes precedence over that variable.
  std::optional<std::string> base_url_override;
};

// The outcome of a single attempt that reached the service.
struct MetadataResponse {
  int status = 0;
  std::string body;  // verbatim, for any status
};

// Talks to one cloud metadata service over a single reused libcurl handle, never through a proxy
// and never following redirects. Thread-safe; concurrent transfers are served one at a time, and
// no lock is held during a transfer or a backoff sleep.
class MetadataClient {
 public:
  // The environment variable that replaces scheme, host and port of every metadata service.
  static constexpr char kBaseUrlEnv[] = "WORKER_RUNNER_METADATA_URL";

  // `default_base_url` is the service's own base, e.g. "http://169.254.169.254"; any path it has
  // is kept when the origin is replaced. The environment is read once, here. kInvalidArgument when
  // a base or override is not an http(s) URL, or an override carries a path, query or fragment.
  static absl::StatusOr<std::unique_ptr<MetadataClient>> Create(absl::string_view default_base_url,
                                                                MetadataClientOptions options = {});
  ~MetadataClient();
  MetadataClient(const MetadataClient&) = delete;
  MetadataClient& operator=(const MetadataClient&) = delete;

  // The effective base every path is appended to, without a trailing '/'.
  const std::string& base_url() const { return base_url_; }

  // Sends a request to `base_url() + path` (`path` starts with '/'), retrying transport errors,
  // timeouts, 5xx and 429 within the backoff budget. Blocks. Returns the 2xx body verbatim.
  // Errors: 404 kNotFound, 401 kUnauthenticated, 403 kPermissionDenied, other non-2xx
  // kFailedPrecondition, a body over `max_response_bytes` kFailedPrecondition, budget spent
  // kUnavailable, a malformed path or header kInvalidArgument (nothing is sent). Messages name
  // the method, the path without its query and the last failure; never bodies or header values.
  absl::StatusOr<std::string> Get(absl::string_view path, const MetadataHeaders& headers);
  absl::StatusOr<std::string> Put(absl::string_view path, const MetadataHeaders& headers,
                                  absl::string_view body);

  // A single attempt limited to `timeout`, for pollers: any HTTP status is returned as a
  // response. Errors: transport failure kUnavailable, timeout kDeadlineExceeded, a body over
  // `max_response_bytes` kFailedPrecondition, a malformed path or header kInvalidArgument.
  absl::StatusOr<MetadataResponse> GetOnce(absl::string_view path, const MetadataHeaders& headers,
                                           absl::Duration timeout);
  absl::StatusOr<MetadataResponse> PutOnce(absl::string_view path, const MetadataHeaders& headers,
                                           absl::string_view body, absl::Duration timeout);

 private:
  MetadataClient(std::string base_url, MetadataClientOptions options,
                 std::unique_ptr<taskcluster::HttpTransport> transport);

  // `body` is nullptr for a GET.
  absl::StatusOr<std::string> Call(absl::string_view method, absl::string_view path,
                                   const MetadataHeaders& headers, const std::string* body);
  absl::StatusOr<MetadataResponse> Once(absl::string_view method, absl::string_view path,
                                        const MetadataHeaders& headers, const std::string* body,
                                        absl::Duration timeout);
  taskcluster::TransferResult Send(absl::string_view method, absl::string_view path,
                                   const MetadataHeaders& headers, const std::string* body,
                                   absl::Duration timeout);

  const std::string base_url_;
  const MetadataClientOptions options_;
  // Never uses a proxy: the services are link-local.
  const std::unique_ptr<taskcluster::HttpTransport> transport_;
};

// The error for a non-2xx `status` answered to `method path`: 404 kNotFound, 401
// kUnauthenticated, 403 kPermissionDenied, otherwise kFailedPrecondition.
absl::Status HttpStatusError(absl::string_view method, absl::string_view path, int status);

}  // namespace runner::providers::metadata

#endif  // RUNNER_SERVER_PROVIDERS_METADATA_METADATA_CLIENT_H_
