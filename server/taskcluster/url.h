#ifndef RUNNER_SERVER_TASKCLUSTER_URL_H_
#define RUNNER_SERVER_TASKCLUSTER_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace runner::taskcluster {

// Escapes `segment` as a single URL path segment: bytes outside `A-Z a-z 0-9 - _ . ~ $ & + : = @`
// become `%XX` with uppercase hex, so `proj-a/build` becomes `proj-a%2Fbuild`.
std::string EscapePathSegment(absl::string_view segment);

// Returns `<root_url>/api/<service>/v1/<path>` with trailing '/' removed from `root_url` and
// leading '/' removed from `path`. `path` must already be escaped. kInvalidArgument when
// `root_url` is not an http:// or https:// URL.
absl::StatusOr<std::string> ServiceUrl(absl::string_view root_url, absl::string_view service,
                                       absl::string_view path);

// The parts of an absolute http(s) URL that request signing needs.
struct ParsedUrl {
  std::string scheme;          // "http" or "https", lower case
  std::string host;            // as written, without port; IPv6 literals keep their brackets
  int port = 0;                // explicit port, else 443 for https and 80 for http
  std::string request_target;  // path (at least "/") plus "?query" when present; no fragment
};

// Splits `url`. kInvalidArgument when it is not http(s), has no host, carries user information
// or has a port outside 1..65535.
absl::StatusOr<ParsedUrl> ParseUrl(absl::string_view url);

}  // namespace runner::taskcluster

#endif  // RUNNER_SERVER_TASKCLUSTER_URL_H_
