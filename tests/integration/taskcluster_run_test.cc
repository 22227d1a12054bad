// start-worker against the fake Taskcluster (Node.js, verifying every Hawk signature with
// @hapi/hawk): registration, secrets, worker-config merging, files, error reports, retries and
// permanent failures. Everything binds 127.0.0.1 and lives in a temporary directory.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "zip.h"

#include "tests/fakes/process_util.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner {
namespace {

using nlohmann::json;
using test_support::ReadFile;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBin = RUNNER_BIN_DIR;
constexpr char kStaticSecret[] = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdef";
constexpr char kPermanentToken[] = "permanent-access-token-for-the-standalone-test";
constexpr char kPool[] = "proj-hw/mac-mini";
constexpr char kEscapedPool[] = "proj-hw%2Fmac-mini";

class TaskclusterRunTest : public ::testing::Test {
 protected:
  void StartFake(const json& scenario) {
    auto fake = fakes::FakeTaskclusterProcess::Start(scenario);
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = std::move(fake).value();
  }

  std::string gw_config() const { return dir_.File("gw-config.json"); }
  std::string log_path() const { return dir_.File("runner.log"); }

  std::string WorkerBlock() const {
    return absl::StrCat("worker:\n  implementation: generic-worker\n  path: ", kBin,
                        "/fake-worker\n  configPath: ", gw_config(), "\n");
  }

  std::string StaticConfig(const std::string& extra = "") const {
    return absl::StrCat("provider:\n  providerType: static\n  rootURL: ", fake_->root_url(),
                        "/\n  providerID: hw-static\n  workerPoolID: ", kPool,
                        "\n  workerGroup: datacenter-1\n  workerID: \"0042\"\n  staticSecret: ",
                        kStaticSecret, "\n  workerLocation: {rack: r12}\n", WorkerBlock(),
                        "workerConfig:\n  fromRunnerFile: true\n  list: [runner]\napi:\n  socket: ",
                        dir_.File("api.sock"), "\n", extra);
  }

  std::string StandaloneConfig() const {
    return absl::StrCat("provider:\n  providerType: standalone\n  rootURL: ", fake_->root_url(),
                        "\n  clientID: project/ci/standalone-1\n  accessToken: ", kPermanentToken,
                        "\n  workerPoolID: ", kPool,
                        "\n  workerGroup: office\n  workerID: desk-7\n", WorkerBlock(),
                        "api:\n  socket: ", dir_.File("api.sock"), "\n");
  }

  void WriteScript(const std::vector<std::string>& lines) {
    test_support::WriteFile(dir_.File("script"), absl::StrJoin(lines, "\n") + "\n");
  }

  // Writes `config` and starts start-worker on it, its log in log_path().
  pid_t StartRunner(const std::string& config) {
    std::string path = dir_.File("runner.yaml");
    test_support::WriteFile(path, config, 0600);
    return test_support::StartProcess({kBin + "/start-worker", path},
                                      {"FAKE_WORKER_SCRIPT=" + dir_.File("script")}, "",
                                      log_path());
  }

  int Run(const std::string& config) {
    pid_t pid = StartRunner(config);
    std::optional<int> code = test_support::WaitProcess(pid, absl::Seconds(60));
    if (!code.has_value()) test_support::KillProcess(pid);
    EXPECT_TRUE(code.has_value()) << ReadFile(log_path());
    return code.value_or(-1);
  }

  std::vector<json> RequestsTo(const std::string& method, const std::string& path_prefix) {
    std::vector<json> matching;
    for (const json& request : fake_->Requests()) {
      if (request["method"] == method &&
          request["path"].get<std::string>().rfind(path_prefix, 0) == 0) {
        matching.push_back(request);
      }
    }
    return matching;
  }

  test_support::TempDir dir_;
  std::unique_ptr<fakes::FakeTaskclusterProcess> fake_;
};

json FileEntry(const std::string& path, const std::string& content) {
  return {{"description", "a test file"},
          {"path", path},
          {"encoding", "base64"},
          {"format", "file"},
          {"content", absl::Base64Escape(content)}};
}

// A zip archive whose only member is `../../escaped.txt`, made with libzip.
std::string EscapingZip() {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_source_keep(buffer);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  static const char kContent[] = "escaped";
  zip_source_t* member = zip_source_buffer(archive, kContent, sizeof(kContent) - 1, 0);
  zip_file_add(archive, "../../escaped.txt", member, ZIP_FL_ENC_UTF_8);
  zip_close(archive);
  zip_source_open(buffer);
  zip_source_seek(buffer, 0, SEEK_END);
  zip_int64_t size = zip_source_tell(buffer);
  zip_source_seek(buffer, 0, SEEK_SET);
  std::string bytes(static_cast<size_t>(size), '\0');
  zip_source_read(buffer, bytes.data(), static_cast<zip_uint64_t>(size));
  zip_source_close(buffer);
  zip_source_free(buffer);
  return absl::Base64Escape(bytes);
}

TEST_F(TaskclusterRunTest, StaticWorkerRegistersLoadsSecretsWritesFilesAndReportsErrors) {
  std::string pool_file = dir_.File("from-pool/nested/pool.txt");
  std::string secret_file = dir_.File("from-secret.txt");
  StartFake({
      {"workerConfig",
       {{"genericWorker",
         {{"config", {{"fromRegisterWorker", true}, {"list", {"pool"}}}},
          {"files", {FileEntry(pool_file, "pool file content\n")}}}}}},
      {"forbiddenSecrets", {absl::StrCat("worker-type:", kPool)}},
      {"secrets",
       {{absl::StrCat("worker-pool:", kPool),
         {{"config", {{"livelogSecret", "livelog-secret-value"}, {"list", {"secret"}}}},
          {"files", {FileEntry(secret_file, "secret file content")}}}}}},
  });
  WriteScript({
      "wait-for welcome",
      "hello error-report,log",
      R"(send ~{"type":"error-report","kind":"worker-error","title":"disk too small","description":"need more","extra":{"free":"1G"}})",
      "exit 0",
  });
  ASSERT_EQ(Run(StaticConfig()), 0) << ReadFile(log_path()) << fake_->Stderr();

  // registerWorker: unauthenticated, with the static secret as proof and the boot time.
  auto registers = RequestsTo("POST", "/api/worker-manager/v1/worker/register");
  ASSERT_EQ(registers.size(), 1u);
  EXPECT_EQ(registers[0]["authorization"], false);
  json body = registers[0]["body"];
  EXPECT_EQ(body["workerPoolId"], kPool);
  EXPECT_EQ(body["providerId"], "hw-static");
  EXPECT_EQ(body["workerGroup"], "datacenter-1");
  EXPECT_EQ(body["workerId"], "0042");
  EXPECT_EQ(body["workerIdentityProof"], json({{"staticSecret", kStaticSecret}}));
  EXPECT_THAT(body["systemBootTime"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.000Z"));

  // Secrets, in order, with escaped names and the issued temporary credentials.
  auto secrets = RequestsTo("GET", "/api/secrets/v1/secret/");
  ASSERT_EQ(secrets.size(), 2u);
  EXPECT_EQ(secrets[0]["path"], absl::StrCat("/api/secrets/v1/secret/worker-type:", kEscapedPool));
  EXPECT_EQ(secrets[1]["path"], absl::StrCat("/api/secrets/v1/secret/worker-pool:", kEscapedPool));
  for (const json& request : secrets) {
    EXPECT_EQ(request["hawkVerified"], true) << request.dump();
    EXPECT_EQ(request["certificateInExt"], true);
    EXPECT_EQ(request["hawkClientId"], "worker/hw-static/proj-hw/mac-mini/datacenter-1/0042");
  }

  // The error report went to worker-manager with the runner's group and id.
  auto reports =
      RequestsTo("POST", absl::StrCat("/api/worker-manager/v1/worker-pool-errors/", kEscapedPool));
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0]["hawkVerified"], true);
  EXPECT_EQ(reports[0]["body"], json({{"workerGroup", "datacenter-1"},
                                      {"workerId", "0042"},
                                      {"kind", "worker-error"},
                                      {"title", "disk too small"},
                                      {"description", "need more"},
                                      {"extra", {{"free", "1G"}}}}));
  // Static workers are not removed by the runner.
  EXPECT_TRUE(RequestsTo("DELETE", "/api/worker-manager/v1/workers/").empty());

  // Sources merged in order: runner file < pool config < secret < derived keys.
  json config = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(config["fromRunnerFile"], true);
  EXPECT_EQ(config["fromRegisterWorker"], true);
  EXPECT_EQ(config["livelogSecret"], "livelog-secret-value");
  EXPECT_EQ(config["list"], json({"runner", "pool", "secret"}));
  EXPECT_EQ(config["clientId"], "worker/hw-static/proj-hw/mac-mini/datacenter-1/0042");
  EXPECT_TRUE(config["certificate"].is_string());
  EXPECT_EQ(config["rootURL"], fake_->root_url());
  EXPECT_EQ(config["provisionerId"], "proj-hw");
  EXPECT_EQ(config["workerType"], "mac-mini");
  EXPECT_EQ(config["workerLocation"], R"({"cloud":"static","rack":"r12"})");
  EXPECT_EQ(test_support::FileMode(gw_config()), 0600);

  // Files from the pool config and from the secret.
  EXPECT_EQ(ReadFile(pool_file), "pool file content\n");
  EXPECT_EQ(ReadFile(secret_file), "secret file content");
  EXPECT_EQ(test_support::FileMode(dir_.File("from-pool/nested")), 0755);

  // No credential in any log line.
  std::string log = ReadFile(log_path());
  EXPECT_THAT(log, Not(HasSubstr(kStaticSecret)));
  EXPECT_THAT(log, Not(HasSubstr(config["accessToken"].get<std::string>())));
  EXPECT_THAT(log, Not(HasSubstr("livelog-secret-value")));
  EXPECT_THAT(log, HasSubstr("registered with worker-manager"));
}

TEST_F(TaskclusterRunTest, StandaloneWorkerReadsSecretsWithItsPermanentCredentials) {
  StartFake({
      {"clients", {{"project/ci/standalone-1", kPermanentToken}}},
      {"secrets", {{absl::StrCat("worker-type:", kPool), {{"fromLegacySecret", true}}}}},
  });
  WriteScript({"wait-for welcome", "hello", "exit 0"});
  ASSERT_EQ(Run(StandaloneConfig()), 0) << ReadFile(log_path()) << fake_->Stderr();

  EXPECT_TRUE(RequestsTo("POST", "/api/worker-manager/v1/worker/register").empty());
  auto secrets = RequestsTo("GET", "/api/secrets/v1/secret/");
  ASSERT_EQ(secrets.size(), 2u);
  for (const json& request : secrets) {
    EXPECT_EQ(request["hawkVerified"], true) << request.dump();
    EXPECT_EQ(request["certificateInExt"], false);
    EXPECT_EQ(request["hawkClientId"], "project/ci/standalone-1");
  }
  json config = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(config["fromLegacySecret"], true);
  EXPECT_EQ(config["accessToken"], kPermanentToken);
  EXPECT_FALSE(config.contains("certificate"));
  EXPECT_THAT(ReadFile(log_path()), Not(HasSubstr(kPermanentToken)));
}

TEST_F(TaskclusterRunTest, RegistrationRetriesServerErrorsThenSucceeds) {
  StartFake({{"responses",
              {{"registerWorker",
                {{{"status", 503}, {"body", {{"code", "ProviderSetupFailed"}, {"message", "x"}}}},
                 {{"status", 502}, {"rawBody", "<html>bad gateway</html>"}},
                 {{"default", true}}}}}}});
  WriteScript({"wait-for welcome", "hello", "exit 0"});
  ASSERT_EQ(Run(StaticConfig()), 0) << ReadFile(log_path());
  EXPECT_EQ(RequestsTo("POST", "/api/worker-manager/v1/worker/register").size(), 3u);
}

TEST_F(TaskclusterRunTest, PermanentRegistrationFailureEndsTheRunAtOnce) {
  StartFake({{"responses",
              {{"registerWorker",
                {{{"status", 400},
                  {"body", {{"code", "InputError"}, {"message", "worker has expired"}}}}}}}}});
  WriteScript({"exit 0"});
  EXPECT_EQ(Run(StaticConfig()), 4);
  EXPECT_EQ(RequestsTo("POST", "/api/worker-manager/v1/worker/register").size(), 1u);
  std::string log = ReadFile(log_path());
  EXPECT_THAT(log, HasSubstr("InputError"));
  EXPECT_THAT(log, HasSubstr("worker has expired"));
  EXPECT_FALSE(test_support::PathExists(gw_config()));
}

TEST_F(TaskclusterRunTest, ForbiddenWorkerPoolSecretIsFatal) {
  StartFake({{"forbiddenSecrets", {absl::StrCat("worker-pool:", kPool)}}});
  WriteScript({"exit 0"});
  EXPECT_EQ(Run(StaticConfig()), 4);
  EXPECT_THAT(ReadFile(log_path()), HasSubstr(absl::StrCat("worker-pool:", kPool)));
  EXPECT_FALSE(test_support::PathExists(gw_config()));
}

// Bad input from the services: each ends the run with a clear error, exit 4, nothing written.
TEST_F(TaskclusterRunTest, BadServiceAnswersEndTheRunWithoutWritingAnything) {
  struct Case {
    const char* name;
    json scenario;
    const char* expected;
  };
  std::string target = dir_.File("never-written/file.txt");
  const Case cases[] = {
      {"response without credentials",
       {{"responses",
         {{"registerWorker",
           {{{"status", 200},
             {"body", {{"expires", "2030-01-01T00:00:00.000Z"}, {"secret", "s"}}}}}}}}},
       "missing credentials"},
      {"response without expiry",
       {{"responses",
         {{"registerWorker",
           {{{"status", 200},
             {"body",
              {{"credentials", {{"clientId", "c"}, {"accessToken", "a-long-access-token"}}},
               {"secret", "s-secret"}}}}}}}}},
       "missing expires"},
      {"unparsable certificate",
       {{"responses",
         {{"registerWorker",
           {{{"status", 200},
             {"body",
              {{"credentials",
                {{"clientId", "c"},
                 {"accessToken", "a-long-access-token"},
                 {"certificate", "{not json"}}},
               {"expires", "2030-01-01T00:00:00.000Z"},
               {"secret", "s-secret"}}}}}}}}},
       "certificate is not a JSON object"},
      {"pool config not an object", {{"workerConfig", "just a string"}}, "workerConfig"},
      {"unknown file format",
       {{"workerConfig",
         {{"genericWorker",
           {{"files",
             {{{"path", target}, {"format", "tar"}, {"encoding", "base64"}, {"content", ""}}}}}}}}},
       "format"},
      {"unknown encoding",
       {{"workerConfig",
         {{"genericWorker",
           {{"files",
             {{{"path", target}, {"format", "file"}, {"encoding", "hex"}, {"content", "00"}}}}}}}}},
       "encoding"},
      {"invalid base64",
       {{"workerConfig",
         {{"genericWorker",
           {{"files",
             {{{"path", target},
               {"format", "file"},
               {"encoding", "base64"},
               {"content", "!!!not base64"}}}}}}}}},
       "base64"},
      {"secret config not an object",
       {{"secrets", {{absl::StrCat("worker-pool:", kPool), {{"config", "a string"}}}}}},
       "config is not a JSON object"},
      {"zip member escaping its destination",
       {{"workerConfig",
         {{"genericWorker",
           {{"files",
             {{{"path", dir_.File("never-written/unpacked")},
               {"format", "zip"},
               {"encoding", "base64"},
               {"content", EscapingZip()}}}}}}}}},
       "illegal file path in zip"},
      {"secret value not an object",
       {{"secrets", {{absl::StrCat("worker-pool:", kPool), "a string"}}}},
       "not a JSON object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StartFake(c.scenario);
    WriteScript({"wait-for welcome", "hello", "exit 0"});
    EXPECT_EQ(Run(StaticConfig()), 4) << ReadFile(log_path());
    EXPECT_THAT(ReadFile(log_path()), HasSubstr(c.expected));
    EXPECT_FALSE(test_support::PathExists(gw_config()));
    EXPECT_FALSE(test_support::PathExists(target));
    EXPECT_FALSE(test_support::PathExists(dir_.File("never-written")));
    EXPECT_FALSE(test_support::PathExists(dir_.File("escaped.txt")));
    unlink(gw_config().c_str());
  }
}

TEST_F(TaskclusterRunTest, LogsKeepFlowingWhileAnErrorReportIsSlow) {
  // worker-manager answers the report only after 8 s; the worker's next log line must reach the
  // runner's log long before that, because reports are sent off the reading thread.
  StartFake({{"responses", {{"reportWorkerError", {{{"default", true}, {"delayMs", 8000}}}}}}});
  std::string fifo = dir_.File("release");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  WriteScript({
      "wait-for welcome",
      "hello error-report,log",
      R"(send ~{"type":"error-report","kind":"worker-error","title":"t","description":"d","extra":{}})",
      R"(send ~{"type":"log","body":{"textPayload":"still talking"}})",
      "wait-fifo " + fifo,
      "exit 0",
  });
  pid_t pid = StartRunner(StaticConfig());
  EXPECT_TRUE(
      test_support::WaitForFileToContain(log_path(), "worker: still talking", absl::Seconds(6)))
      << ReadFile(log_path());
  // The worker's later line was relayed while the report was still waiting for its answer.
  EXPECT_THAT(ReadFile(log_path()), Not(HasSubstr("reported worker error to worker-manager")));

  int release = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(release, 0);
  ASSERT_EQ(write(release, "go\n", 3), 3);
  close(release);
  std::optional<int> code = test_support::WaitProcess(pid, absl::Seconds(60));
  if (!code.has_value()) test_support::KillProcess(pid);
  EXPECT_EQ(code, 0) << ReadFile(log_path());
  // The slow report was still completed before the runner exited.
  EXPECT_THAT(ReadFile(log_path()), HasSubstr("reported worker error to worker-manager"));
  EXPECT_EQ(RequestsTo("POST", "/api/worker-manager/v1/worker-pool-errors/").size(), 1u);
}

// Regression: a stop request used to wait out the whole 15-minute retry budget of a call that
// kept failing. Registration here answers 503 forever; SIGTERM must end the run at once.
TEST_F(TaskclusterRunTest, SigtermDuringARetryingRegistrationStopsPromptly) {
  StartFake({{"responses", {{"registerWorker", {{{"status", 503}}}}}}});
  WriteScript({"exit 0"});
  pid_t pid = StartRunner(StaticConfig());
  ASSERT_TRUE(test_support::WaitForFileToContain(log_path(), "api: serving", absl::Seconds(20)));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  std::optional<int> code = test_support::WaitProcess(pid, absl::Seconds(20));
  if (!code.has_value()) test_support::KillProcess(pid);
  EXPECT_EQ(code, 6) << ReadFile(log_path());
  EXPECT_THAT(ReadFile(log_path()), HasSubstr("stopped during start-up"));
  EXPECT_FALSE(test_support::PathExists(gw_config()));
}

// Regression: at exit the runner waited for a stuck error report however long it took. After
// the worker has exited, SIGTERM cancels it.
TEST_F(TaskclusterRunTest, SigtermAfterTheWorkerExitedCancelsAStuckErrorReport) {
  StartFake({{"responses", {{"reportWorkerError", {{{"default", true}, {"delayMs", 120000}}}}}}});
  WriteScript({
      "wait-for welcome",
      "hello error-report",
      R"(send ~{"type":"error-report","kind":"worker-error","title":"t","description":"d","extra":{}})",
      "exit 0",
  });
  pid_t pid = StartRunner(StaticConfig());
  ASSERT_TRUE(
      test_support::WaitForFileToContain(log_path(), "runner: worker exited", absl::Seconds(20)));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  std::optional<int> code = test_support::WaitProcess(pid, absl::Seconds(20));
  if (!code.has_value()) test_support::KillProcess(pid);
  EXPECT_EQ(code, 6) << ReadFile(log_path());
  EXPECT_THAT(ReadFile(log_path()), HasSubstr("could not report worker error"));
}

TEST_F(TaskclusterRunTest, RootUrlThatIsNotHttpIsRefused) {
  StartFake(json::object());
  std::string config = StaticConfig();
  config.replace(config.find("http://"), 7, "ftp://");
  WriteScript({"exit 0"});
  EXPECT_EQ(Run(config), 3);
  EXPECT_THAT(ReadFile(log_path()), HasSubstr("provider.rootURL"));
  EXPECT_THAT(ReadFile(log_path()), HasSubstr("line 3"));
  EXPECT_TRUE(fake_->Requests().empty());
}

}  // namespace
}  // namespace runner
