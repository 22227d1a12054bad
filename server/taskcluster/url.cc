#include "server/taskcluster/url.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace runner::taskcluster {
namespace {

bool IsUnreserved(unsigned char c) {
  if (absl::ascii_isalnum(c)) return true;
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
    case '$':
    case '&':
    case '+':
    case ':':
    case '=':
    case '@':
      return true;
    default:
      return false;
  }
}

// Returns the scheme ("http" or "https") and leaves `rest` after "://", or an empty string when
// the URL has neither scheme.
std::string ConsumeScheme(absl::string_view* rest) {
  std::string lower = absl::AsciiStrToLower(rest->substr(0, 8));
  if (absl::StartsWith(lower, "https://")) {
    rest->remove_prefix(8);
    return "https";
  }
  if (absl::StartsWith(lower, "http://")) {
    rest->remove_prefix(7);
    return "http";
  }
  return "";
}

absl::Status BadUrl(absl::string_view url, absl::string_view cause) {
  // Callers parse root and API URLs, which carry no secrets, so the URL is named in full.
  return absl::InvalidArgumentError(absl::StrCat("parse url ", url, ": ", cause));
}

}  // namespace

std::string EscapePathSegment(absl::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (char c : segment) {
    unsigned char u = static_cast<unsigned char>(c);
    if (IsUnreserved(u)) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

absl::StatusOr<std::string> ServiceUrl(absl::string_view root_url, absl::string_view service,
                                       absl::string_view path) {
  absl::string_view rest = root_url;
  if (ConsumeScheme(&rest).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("build service url: root url ", root_url, ": not an http or https url"));
  }
  while (absl::ConsumeSuffix(&root_url, "/")) {
  }
  while (absl::ConsumePrefix(&path, "/")) {
  }
  return absl::StrCat(root_url, "/api/", service, "/v1/", path);
}

absl::StatusOr<ParsedUrl> ParseUrl(absl::string_view url) {
  ParsedUrl parsed;
  absl::string_view rest = url;
  parsed.scheme = ConsumeScheme(&rest);
  if (parsed.scheme.empty()) return BadUrl(url, "not an http or https url");

  // The authority ends at the first '/', '?' or '#'.
  size_t authority_end = rest.find_first_of("/?#");
  absl::string_view authority = rest.substr(0, authority_end);
  absl::string_view target =
      authority_end == absl::string_view::npos ? "" : rest.substr(authority_end);
  if (authority.find('@') != absl::string_view::npos) {
    return BadUrl(url, "user information is not supported");
  }

  absl::string_view host = authority;
  absl::string_view port_text;
  size_t colon = authority.rfind(':');
  size_t bracket = authority.rfind(']');
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return BadUrl(url, "missing host");
  parsed.host = std::string(host);

  if (port_text.empty()) {
    parsed.port = parsed.scheme == "https" ? 443 : 80;
  } else if (!absl::SimpleAtoi(port_text, &parsed.port) || parsed.port < 1 || parsed.port > 65535 ||
             !absl::ascii_isdigit(port_text[0])) {
    return BadUrl(url, "invalid port");
  }

  target = target.substr(0, target.find('#'));
  parsed.request_target =
      absl::StartsWith(target, "/") ? std::string(target) : absl::StrCat("/", target);
  return parsed;
}

}  // namespace runner::taskcluster
