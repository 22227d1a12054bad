// Sends requests signed by our client to a verifier built on @hapi/hawk (tests/fakes/hawk), so the
// signing is checked by an implementation other than ours.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "curl/curl.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "server/taskcluster/hawk.h"
#include "server/taskcluster/http_client.h"
#include "server/taskcluster/url.h"

extern char** environ;

namespace runner::taskcluster {
namespace {

using ::testing::HasSubstr;

constexpr char kPermanentId[] = "my-client";
constexpr char kPermanentKey[] = "permanent-access-token-example";
constexpr char kTemporaryId[] = "worker/aws-prod/proj-a/build/us-east-1/i-0abc123";
constexpr char kTemporaryKey[] = "Zx9qExampleTempAccessTokenForDocsOnly0000000";
constexpr char kCertificate[] =
    R"({"version":1,"scopes":["assume:worker-pool:proj-a/build"],"start":1700000000000,)"
    R"("expiry":1700345600000,"seed":"c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQx",)"
    R"("signature":"bm90LWEtcmVhbC1zaWduYXR1cmUtZm9yLWRvY3Mtb25seQ==",)"
    R"("issuer":"static/taskcluster/worker-manager"})";

const std::string kHawkDir = std::string(RUNNER_SOURCE_DIR) + "/tests/fakes/hawk";

// The verifier process, started once for the suite.
class Verifier {
 public:
  // Starts `node verifier.js`; on failure returns an explanation and leaves nothing running.
  std::string Start() {
    if (access((kHawkDir + "/node_modules/@hapi/hawk/package.json").c_str(), R_OK) != 0) {
      return "tests/fakes/hawk/node_modules is missing @hapi/hawk: run "
             "scripts/install-node-deps.sh";
    }
    clients_path_ = absl::StrCat(::testing::TempDir(), "/hawk_clients_", getpid(), ".json");
    nlohmann::json clients = {
        {kPermanentId, {{"key", kPermanentKey}, {"temporary", false}}},
        {kTemporaryId, {{"key", kTemporaryKey}, {"temporary", true}}},
    };
    std::ofstream(clients_path_) << clients.dump();

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return "pipe failed";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    std::string script = kHawkDir + "/verifier.js";
    std::vector<char*> argv = {const_cast<char*>("node"), script.data(), clients_path_.data(),
                               nullptr};
    int spawned = posix_spawnp(&pid_, "node", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (spawned != 0) {
      close(fds[0]);
      pid_ = -1;
      return absl::StrCat("spawn node: error ", spawned, " (is Node.js installed?)");
    }
    stdout_fd_ = fds[0];
    return ReadPort();
  }

  // Kills and reaps the child, removes the client file.
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdout_fd_ = -1;
    if (!clients_path_.empty()) unlink(clients_path_.c_str());
  }

  int port() const { return port_; }

 private:
  // The verifier writes its port and a newline once it listens; wait for that with a deadline.
  std::string ReadPort() {
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    std::string text;
    while (text.find('\n') == std::string::npos) {
      int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left <= 0) return "verifier did not report its port within 30 s";
      pollfd fd = {stdout_fd_, POLLIN, 0};
      int ready = poll(&fd, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      char buffer[64];
      ssize_t got = read(stdout_fd_, buffer, sizeof(buffer));
      if (got <= 0) return "verifier exited before reporting its port";
      text.append(buffer, static_cast<size_t>(got));
    }
    if (!absl::SimpleAtoi(text.substr(0, text.find('\n')), &port_) || port_ <= 0) {
      return "verifier printed no port";
    }
    return "";
  }

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::string clients_path_;
};

class HawkInteropTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    verifier_ = new Verifier();
    start_error_ = new std::string(verifier_->Start());
  }
  static void TearDownTestSuite() {
    verifier_->Stop();
    delete verifier_;
    delete start_error_;
  }

  void SetUp() override {
    ASSERT_TRUE(start_error_->empty()) << *start_error_;
    absl::StatusOr<std::unique_ptr<HttpClient>> client = HttpClient::Create(root_url());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  static std::string root_url() { return absl::StrCat("http://127.0.0.1:", verifier_->port()); }

  static Verifier* verifier_;
  static std::string* start_error_;
  std::unique_ptr<HttpClient> client_;
};

Verifier* HawkInteropTest::verifier_ = nullptr;
std::string* HawkInteropTest::start_error_ = nullptr;

Credentials Permanent() { return Credentials{kPermanentId, kPermanentKey, "", {}}; }
Credentials Temporary() { return Credentials{kTemporaryId, kTemporaryKey, kCertificate, {}}; }

TEST_F(HawkInteropTest, PermanentCredentialsVerify) {
  Credentials credentials = Permanent();
  absl::StatusOr<nlohmann::json> result =
      client_->Call({"POST", "worker-manager", "worker/reregister", nlohmann::json{{"secret", "s"}},
                     &credentials});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["verified"], true);
  EXPECT_EQ((*result)["id"], kPermanentId);
  EXPECT_EQ((*result)["certificate"], false);
}

TEST_F(HawkInteropTest, EscapedPathVerifies) {
  Credentials credentials = Permanent();
  std::string path = absl::StrCat("workers/", EscapePathSegment("proj-a/build"), "/us-east-1/",
                                  EscapePathSegment("i 0abc;123"));
  absl::StatusOr<nlohmann::json> result =
      client_->Call({"DELETE", "worker-manager", path, std::nullopt, &credentials});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["verified"], true);
}

TEST_F(HawkInteropTest, TemporaryCredentialsWithCertificateVerify) {
  Credentials credentials = Temporary();
  absl::StatusOr<nlohmann::json> result =
      client_->Call({"GET", "secrets", "secret/" + EscapePathSegment("worker-pool:proj-a/build"),
                     std::nullopt, &credentials});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["verified"], true);
  EXPECT_EQ((*result)["id"], kTemporaryId);
  EXPECT_EQ((*result)["certificate"], true);
}

TEST_F(HawkInteropTest, AuthorizedScopesVerify) {
  Credentials credentials = Permanent();
  credentials.authorized_scopes = {"secrets:get:worker-pool:proj-a/build"};
  absl::StatusOr<nlohmann::json> result =
      client_->Call({"GET", "secrets", "ping", std::nullopt, &credentials});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)["authorizedScopes"],
            nlohmann::json::array({"secrets:get:worker-pool:proj-a/build"}));
}

TEST_F(HawkInteropTest, WrongKeyIsUnauthenticated) {
  Credentials credentials = Permanent();
  credentials.access_token = "not-the-right-access-token";
  absl::StatusOr<nlohmann::json> result =
      client_->Call({"GET", "secrets", "ping", std::nullopt, &credentials});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
}

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

TEST_F(HawkInteropTest, TamperedMacIsRejected) {
  std::string url = *ServiceUrl(root_url(), "secrets", "ping");
  absl::StatusOr<std::string> header = HawkAuthorizationHeader(
      Permanent(), "GET", *ParseUrl(url), absl::ToUnixSeconds(absl::Now()), "tAmPeR01");
  ASSERT_TRUE(header.ok()) << header.status();
  // Flip the first character of the MAC.
  size_t mac = header->find("mac=\"") + 5;
  (*header)[mac] = (*header)[mac] == 'A' ? 'B' : 'A';

  CURL* curl = curl_easy_init();
  ASSERT_NE(curl, nullptr);
  curl_slist* headers = curl_slist_append(nullptr, ("Authorization: " + *header).c_str());
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);

  ASSERT_EQ(code, CURLE_OK);
  EXPECT_EQ(status, 401);
  EXPECT_THAT(body, HasSubstr("Bad mac"));
}

}  // namespace
}  // namespace runner::taskcluster
