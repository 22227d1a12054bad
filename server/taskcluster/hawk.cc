#include "server/taskcluster/hawk.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "openssl/evp.h"
#include "openssl/hmac.h"
#include "openssl/rand.h"

#include "server/common/status_util.h"

namespace runner::taskcluster {
namespace {

std::string Base64(const unsigned char* data, size_t size) {
  // EVP_EncodeBlock writes 4 output bytes per 3 input bytes plus a terminating NUL.
  std::vector<unsigned char> out(4 * ((size + 2) / 3) + 1);
  int written = EVP_EncodeBlock(out.data(), data, static_cast<int>(size));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<size_t>(written));
}

std::string Base64(absl::string_view text) {
  return Base64(reinterpret_cast<const unsigned char*>(text.data()), text.size());
}

bool HasHeaderUnsafeChar(absl::string_view value) {
  return value.find_first_of("\"\\") != absl::string_view::npos;
}

}  // namespace

std::string HawkNormalizedString(const HawkArtifacts& a) {
  return absl::StrCat("hawk.1.header\n", a.ts, "\n", a.nonce, "\n", absl::AsciiStrToUpper(a.method),
                      "\n", a.resource, "\n", a.host, "\n", a.port, "\n", "\n", a.ext, "\n");
}

std::string HawkMac(absl::string_view key, const HawkArtifacts& artifacts) {
  std::string normalized = HawkNormalizedString(artifacts);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(normalized.data()), normalized.size(), digest,
       &digest_size);
  return Base64(digest, digest_size);
}

absl::StatusOr<std::string> HawkExt(const Credentials& credentials) {
  // ordered_json keeps the certificate's members in the order the service wrote them.
  nlohmann::ordered_json ext = nlohmann::ordered_json::object();
  if (!credentials.certificate.empty()) {
    nlohmann::ordered_json certificate = nlohmann::ordered_json::parse(
        credentials.certificate, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (!certificate.is_object()) {
      // The certificate text is a credential, so it stays out of the message.
      return absl::InvalidArgumentError(absl::StrCat("sign request: credentials of ",
                                                     credentials.client_id,
                                                     ": certificate is not a json object"));
    }
    ext["certificate"] = std::move(certificate);
  }
  if (!credentials.authorized_scopes.empty()) {
    ext["authorizedScopes"] = credentials.authorized_scopes;
  }
  if (ext.empty()) return std::string();
  return Base64(
      ext.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace));
}

absl::StatusOr<std::string> HawkAuthorizationHeader(const Credentials& credentials,
                                                    absl::string_view method, const ParsedUrl& url,
                                                    int64_t ts, absl::string_view nonce) {
  if (credentials.client_id.empty() || HasHeaderUnsafeChar(credentials.client_id)) {
    return absl::InvalidArgumentError(
        "sign request: client id: empty or contains a quote or backslash");
  }
  if (nonce.empty() || HasHeaderUnsafeChar(nonce)) {
    return absl::InvalidArgumentError(
        "sign request: nonce: empty or contains a quote or backslash");
  }

  HawkArtifacts artifacts;
  artifacts.method = std::string(method);
  artifacts.resource = url.request_target;
  artifacts.host = url.host;
  artifacts.port = url.port;
  artifacts.ts = ts;
  artifacts.nonce = std::string(nonce);
  RUNNER_ASSIGN_OR_RETURN(artifacts.ext, HawkExt(credentials));

  std::string header = absl::StrCat("Hawk id=\"", credentials.client_id, "\", mac=\"",
                                    HawkMac(credentials.access_token, artifacts), "\", ts=\"", ts,
                                    "\", nonce=\"", nonce, "\"");
  if (!artifacts.ext.empty()) absl::StrAppend(&header, ", ext=\"", artifacts.ext, "\"");
  return header;
}

absl::StatusOr<std::string> NewHawkNonce() {
  unsigned char bytes[6];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("sign request: nonce: random generator failed");
  }
  return Base64(bytes, sizeof(bytes));
}

}  // namespace runner::taskcluster
