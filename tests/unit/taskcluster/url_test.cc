#include "server/taskcluster/url.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::taskcluster {
namespace {

TEST(UrlTest, EscapesPathSegments) {
  struct Case {
    std::string input;
    std::string escaped;
  };
  const Case cases[] = {
      {"proj-a/build", "proj-a%2Fbuild"},
      {"worker-pool:proj-a/build", "worker-pool:proj-a%2Fbuild"},
      {"AZaz09-_.~$&+:=@", "AZaz09-_.~$&+:=@"},
      {"a b", "a%20b"},
      {"a;b,c?d", "a%3Bb%2Cc%3Fd"},
      {"50%#x", "50%25%23x"},
      {"caf\xc3\xa9", "caf%C3%A9"},
      {std::string("a\0b", 3), "a%00b"},
      {"\x7f\xff", "%7F%FF"},
      {"i-0abc123", "i-0abc123"},
      {"", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(EscapePathSegment(c.input), c.escaped);
  }
}

TEST(UrlTest, BuildsServiceUrls) {
  EXPECT_EQ(*ServiceUrl("https://tc.example.com", "worker-manager", "worker/register"),
            "https://tc.example.com/api/worker-manager/v1/worker/register");
  EXPECT_EQ(*ServiceUrl("https://tc.example.com//", "secrets", "//secret/worker-pool:a%2Fb"),
            "https://tc.example.com/api/secrets/v1/secret/worker-pool:a%2Fb");
  EXPECT_EQ(*ServiceUrl("http://127.0.0.1:8080/", "worker-manager", "/workers/a%2Fb/g/w"),
            "http://127.0.0.1:8080/api/worker-manager/v1/workers/a%2Fb/g/w");
}

TEST(UrlTest, RejectsRootUrlWithoutHttpScheme) {
  for (const char* root : {"tc.example.com", "ftp://tc.example.com", "", "https:/x"}) {
    SCOPED_TRACE(root);
    EXPECT_EQ(ServiceUrl(root, "secrets", "ping").status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST(UrlTest, ParsesUrlParts) {
  struct Case {
    std::string url;
    std::string scheme;
    std::string host;
    int port;
    std::string target;
  };
  const Case cases[] = {
      {"https://tc.example.com/api/x/v1/y", "https", "tc.example.com", 443, "/api/x/v1/y"},
      {"http://tc.example.com/a?b=1&c=2", "http", "tc.example.com", 80, "/a?b=1&c=2"},
      {"http://127.0.0.1:8123/a%2Fb#frag", "http", "127.0.0.1", 8123, "/a%2Fb"},
      {"HTTPS://tc.example.com", "https", "tc.example.com", 443, "/"},
      {"https://tc.example.com?q=1", "https", "tc.example.com", 443, "/?q=1"},
      {"http://[::1]:9000/p", "http", "[::1]", 9000, "/p"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    absl::StatusOr<ParsedUrl> parsed = ParseUrl(c.url);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->scheme, c.scheme);
    EXPECT_EQ(parsed->host, c.host);
    EXPECT_EQ(parsed->port, c.port);
    EXPECT_EQ(parsed->request_target, c.target);
  }
}

TEST(UrlTest, RejectsMalformedUrls) {
  for (const char* url : {"ftp://h/", "https:///path", "https://h:0/", "https://h:70000/",
                          "https://h:x1/", "https://user:pw@h/", "https://h:+80/"}) {
    SCOPED_TRACE(url);
    EXPECT_EQ(ParseUrl(url).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace runner::taskcluster
