#include "server/taskcluster/hawk.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::taskcluster {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kCertificate[] =
    R"({"version":1,"scopes":["assume:worker-pool:proj-a/build","assume:worker-id:us-east-1/i-0abc123"],)"
    R"("start":1700000000000,"expiry":1700345600000,"seed":"c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQx",)"
    R"("signature":"bm90LWEtcmVhbC1zaWduYXR1cmUtZm9yLWRvY3Mtb25seQ==","issuer":"static/taskcluster/worker-manager"})";

constexpr char kCertificateExt[] =
    "eyJjZXJ0aWZpY2F0ZSI6eyJ2ZXJzaW9uIjoxLCJzY29wZXMiOlsiYXNzdW1lOndvcmtlci1wb29sOnByb2otYS9idWls"
    "ZCIsImFzc3VtZTp3b3JrZXItaWQ6dXMtZWFzdC0xL2ktMGFiYzEyMyJdLCJzdGFydCI6MTcwMDAwMDAwMDAwMCwiZXhw"
    "aXJ5IjoxNzAwMzQ1NjAwMDAwLCJzZWVkIjoiYzJWbFpITmxaV1J6WldWa2MyVmxaSE5sWldSelpXVmtjMlZsWkhObFpX"
    "UXgiLCJzaWduYXR1cmUiOiJibTkwTFdFdGNtVmhiQzF6YVdkdVlYUjFjbVV0Wm05eUxXUnZZM010YjI1c2VRPT0iLCJp"
    "c3N1ZXIiOiJzdGF0aWMvdGFza2NsdXN0ZXIvd29ya2VyLW1hbmFnZXIifX0=";

ParsedUrl MustParse(const std::string& url) {
  absl::StatusOr<ParsedUrl> parsed = ParseUrl(url);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.value_or(ParsedUrl{});
}

// Worked example (a): the public Hawk test vector, with ext as an opaque string.
TEST(HawkTest, MacMatchesPublicHawkVector) {
  HawkArtifacts artifacts;
  artifacts.method = "GET";
  artifacts.resource = "/resource/1?b=1&a=2";
  artifacts.host = "example.com";
  artifacts.port = 8000;
  artifacts.ts = 1353832234;
  artifacts.nonce = "j4h3g2";
  artifacts.ext = "some-app-ext-data";
  EXPECT_EQ(HawkNormalizedString(artifacts),
            "hawk.1.header\n1353832234\nj4h3g2\nGET\n/resource/1?b=1&a=2\nexample.com\n8000\n\n"
            "some-app-ext-data\n");
  EXPECT_EQ(HawkMac("werxhqb98rpaxn39848xrunpaw3489ruxnpa98w4rxn", artifacts),
            "6R4rV5iE+NPoym+WwjeHzjAGXUtLNIxmo1vpMofpLAE=");
}

// Worked example (b): reregisterWorker signed with temporary credentials.
TEST(HawkTest, SignsWithTemporaryCredentialCertificateInExt) {
  Credentials credentials;
  credentials.client_id = "worker/aws-prod/proj-a/build/us-east-1/i-0abc123";
  credentials.access_token = "Zx9qExampleTempAccessTokenForDocsOnly0000000";
  credentials.certificate = kCertificate;

  absl::StatusOr<std::string> ext = HawkExt(credentials);
  ASSERT_TRUE(ext.ok()) << ext.status();
  EXPECT_EQ(*ext, kCertificateExt);

  HawkArtifacts artifacts;
  artifacts.method = "POST";
  artifacts.resource = "/api/worker-manager/v1/worker/reregister";
  artifacts.host = "tc.example.com";
  artifacts.port = 443;
  artifacts.ts = 1700003600;
  artifacts.nonce = "q3Xv9LmP";
  artifacts.ext = *ext;
  EXPECT_EQ(HawkMac(credentials.access_token, artifacts),
            "GB5u7+Vyw+uKtZv9e5PDq0K0+OsJ/MVXrzQ8Aq4sbBI=");

  absl::StatusOr<std::string> header = HawkAuthorizationHeader(
      credentials, "POST",
      MustParse("https://tc.example.com/api/worker-manager/v1/worker/reregister"), 1700003600,
      "q3Xv9LmP");
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(*header, std::string("Hawk id=\"worker/aws-prod/proj-a/build/us-east-1/i-0abc123\", "
                                 "mac=\"GB5u7+Vyw+uKtZv9e5PDq0K0+OsJ/MVXrzQ8Aq4sbBI=\", "
                                 "ts=\"1700003600\", nonce=\"q3Xv9LmP\", ext=\"") +
                         kCertificateExt + "\"");
}

// Worked example (c): removeWorker with permanent credentials, an escaped path and no ext.
TEST(HawkTest, SignsPermanentCredentialsWithoutExt) {
  Credentials credentials;
  credentials.client_id = "my-client";
  credentials.access_token = "permanent-access-token-example";
  ParsedUrl url = MustParse(
      "https://tc.example.com/api/worker-manager/v1/workers/proj-a%2Fbuild/us-east-1/i-0abc123");

  HawkArtifacts artifacts;
  artifacts.method = "DELETE";
  artifacts.resource = url.request_target;
  artifacts.host = url.host;
  artifacts.port = url.port;
  artifacts.ts = 1700000123;
  artifacts.nonce = "AbCdEfGh";
  EXPECT_EQ(HawkNormalizedString(artifacts),
            "hawk.1.header\n1700000123\nAbCdEfGh\nDELETE\n"
            "/api/worker-manager/v1/workers/proj-a%2Fbuild/us-east-1/i-0abc123\n"
            "tc.example.com\n443\n\n\n");

  absl::StatusOr<std::string> header =
      HawkAuthorizationHeader(credentials, "delete", url, 1700000123, "AbCdEfGh");
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(*header,
            "Hawk id=\"my-client\", mac=\"PMypizWkMOOzJEJ16sRCFM0P7r405CiNnogSGd5pTp0=\", "
            "ts=\"1700000123\", nonce=\"AbCdEfGh\"");
}

TEST(HawkTest, ExtCarriesAuthorizedScopesAlone) {
  Credentials credentials;
  credentials.client_id = "my-client";
  credentials.access_token = "permanent-access-token-example";
  credentials.authorized_scopes = {"secrets:get:worker-pool:proj-a/build"};
  EXPECT_EQ(*HawkExt(credentials),
            "eyJhdXRob3JpemVkU2NvcGVzIjpbInNlY3JldHM6Z2V0Ondvcmtlci1wb29sOnByb2otYS9idWlsZCJdfQ==");
}

TEST(HawkTest, ExtCarriesCertificateThenAuthorizedScopes) {
  Credentials credentials;
  credentials.client_id = "c";
  credentials.certificate = R"({"version":1})";
  credentials.authorized_scopes = {"a", "b"};
  // base64 of {"certificate":{"version":1},"authorizedScopes":["a","b"]}
  EXPECT_EQ(*HawkExt(credentials),
            "eyJjZXJ0aWZpY2F0ZSI6eyJ2ZXJzaW9uIjoxfSwiYXV0aG9yaXplZFNjb3BlcyI6WyJhIiwiYiJdfQ==");
}

TEST(HawkTest, NoExtForPermanentUnrestrictedCredentials) {
  Credentials credentials;
  credentials.client_id = "c";
  credentials.access_token = "k";
  EXPECT_EQ(*HawkExt(credentials), "");
}

TEST(HawkTest, RejectsUnparsableCertificateWithoutEchoingIt) {
  for (const char* certificate : {"{not json", "[1,2]", "\"text\"", "{\"a\":1} trailing"}) {
    SCOPED_TRACE(certificate);
    Credentials credentials;
    credentials.client_id = "my-client";
    credentials.access_token = "permanent-access-token-example";
    credentials.certificate = certificate;
    absl::StatusOr<std::string> header = HawkAuthorizationHeader(
        credentials, "GET", MustParse("https://tc.example.com/x"), 1, "nonce123");
    EXPECT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(header.status().message(), Not(HasSubstr(certificate)));
    EXPECT_THAT(header.status().message(), Not(HasSubstr(credentials.access_token)));
  }
}

TEST(HawkTest, RejectsIdOrNonceThatWouldBreakTheHeader) {
  Credentials credentials;
  credentials.client_id = "bad\"id";
  credentials.access_token = "key";
  ParsedUrl url = MustParse("https://tc.example.com/x");
  EXPECT_EQ(HawkAuthorizationHeader(credentials, "GET", url, 1, "abc").status().code(),
            absl::StatusCode::kInvalidArgument);
  credentials.client_id = "good";
  EXPECT_EQ(HawkAuthorizationHeader(credentials, "GET", url, 1, "a\\b").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HawkTest, NoncesAreFreshEightCharacterBase64) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    absl::StatusOr<std::string> nonce = NewHawkNonce();
    ASSERT_TRUE(nonce.ok()) << nonce.status();
    EXPECT_THAT(*nonce, ::testing::MatchesRegex("[A-Za-z0-9+/]{8}"));
    seen.insert(*nonce);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace runner::taskcluster
