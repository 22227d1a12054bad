#ifndef RUNNER_SERVER_TASKCLUSTER_HAWK_H_
#define RUNNER_SERVER_TASKCLUSTER_HAWK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "server/taskcluster/credentials.h"
#include "server/taskcluster/url.h"

namespace runner::taskcluster {

// The request fields a Hawk MAC covers (header flavour, no payload hash).
struct HawkArtifacts {
  std::string method;    // upper-cased before signing
  std::string resource;  // request-target exactly as sent: escaped path plus "?query"
  std::string host;      // without port
  int port = 0;
  int64_t ts = 0;  // Unix seconds
  std::string nonce;
  std::string ext;  // empty: no ext
};

// The normalised string the MAC is computed over: "hawk.1.header", ts, nonce, method, resource,
// host, port, an empty hash and ext, each followed by a newline.
std::string HawkNormalizedString(const HawkArtifacts& artifacts);

// Base64 (standard, padded) of HMAC-SHA256 over the normalised string. `key` is used as raw bytes.
std::string HawkMac(absl::string_view key, const HawkArtifacts& artifacts);

// The ext value for `credentials`: base64 of compact JSON with `certificate` (the certificate
// text parsed into an object) and/or `authorizedScopes`, or "" when neither applies.
// kInvalidArgument when the certificate is not a JSON object.
absl::StatusOr<std::string> HawkExt(const Credentials& credentials);

// Builds the value of the Authorization header for a request to `url` with the given ts and
// nonce: `Hawk id="..", mac="..", ts="..", nonce=".."` plus `, ext=".."` when there is an ext.
// kInvalidArgument for an unusable certificate, or an id or nonce containing `"` or `\`.
absl::StatusOr<std::string> HawkAuthorizationHeader(const Credentials& credentials,
                                                    absl::string_view method, const ParsedUrl& url,
                                                    int64_t ts, absl::string_view nonce);

// A fresh nonce: 8 base64 characters from 6 random bytes (OpenSSL RAND_bytes). kInternal when the
// random generator fails.
absl::StatusOr<std::string> NewHawkNonce();

}  // namespace runner::taskcluster

#endif  // RUNNER_SERVER_TASKCLUSTER_HAWK_H_
