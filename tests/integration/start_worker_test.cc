// End-to-end tests: the real start-worker binary with a scripted fake worker, its local API read
// by the real runnerctl. Everything stays in a temporary directory; nothing leaves the machine.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/process_util.h"

namespace runner {
namespace {

using test_support::ReadFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Binds a Unix socket at `path` and closes it: a socket file nobody listens on, as a killed
// runner leaves behind.
void LeaveStaleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  struct sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  close(fd);
}

constexpr char kAccessToken[] = "TESTONLY-access-token-0123456789abcdefghijklmnop";
const std::string kBin = RUNNER_BIN_DIR;

class StartWorkerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t pid : started_) test_support::KillProcess(pid);
  }

  std::string socket() const { return dir_.File("api.sock"); }
  std::string runner_log() const { return dir_.File("runner.log"); }
  std::string stdin_log() const { return dir_.File("worker-stdin.log"); }
  std::string gw_config() const { return dir_.File("gw-config.json"); }

  // A standalone runner config starting the fake worker as generic-worker.
  std::string Config(const std::string& worker_block = "", const std::string& extra = "") const {
    std::string worker =
        worker_block.empty()
            ? absl::StrCat("worker:\n  implementation: generic-worker\n  path: ", kBin,
                           "/fake-worker\n  configPath: ", gw_config(), "\n")
            : worker_block;
    return absl::StrCat(
        "provider:\n"
        "  providerType: standalone\n"
        "  rootURL: https://tc.example.invalid/\n"
        "  clientID: project/ci/runner-test\n"
        "  accessToken: ",
        kAccessToken,
        "\n"
        "  workerPoolID: proj-ci/linux\n"
        "  workerGroup: office\n"
        "  workerID: desk-7\n"
        "  workerLocation: {rack: r12}\n"
        "  providerMetadata: {owner: ops@example.com, instance-type: m5.large}\n",
        worker,
        "workerConfig:\n"
        "  cachesDir: /var/cache/gw\n"
        "  idleTimeoutSecs: 900\n"
        "getSecrets: false\n"
        "api:\n"
        "  socket: ",
        socket(), "\n", extra);
  }

  std::string WriteConfig(const std::string& content, const std::string& name = "runner.yaml") {
    std::string path = dir_.File(name);
    test_support::WriteFile(path, content, 0600);
    return path;
  }

  void WriteScript(const std::vector<std::string>& lines) {
    test_support::WriteFile(dir_.File("script"), absl::StrJoin(lines, "\n") + "\n", 0600);
  }

  pid_t StartRunner(const std::string& config_path, const std::string& log_path = "") {
    pid_t pid = test_support::StartProcess(
        {kBin + "/start-worker", config_path},
        {"FAKE_WORKER_SCRIPT=" + dir_.File("script"), "FAKE_WORKER_STDIN_LOG=" + stdin_log()}, "",
        log_path.empty() ? runner_log() : log_path);
    EXPECT_GT(pid, 0);
    started_.push_back(pid);
    return pid;
  }

  int WaitRunner(pid_t pid, absl::Duration timeout = absl::Seconds(30)) {
    std::optional<int> code = test_support::WaitProcess(pid, timeout);
    EXPECT_TRUE(code.has_value()) << "start-worker did not exit; log:\n" << ReadFile(runner_log());
    return code.value_or(-1);
  }

  int RunToEnd(const std::string& config_path) { return WaitRunner(StartRunner(config_path)); }

  std::vector<nlohmann::json> StdinMessages() const {
    std::vector<nlohmann::json> messages;
    for (absl::string_view line : absl::StrSplit(ReadFile(stdin_log()), '\n', absl::SkipEmpty())) {
      if (line.size() > 1 && line[0] == '~') {
        messages.push_back(nlohmann::json::parse(line.substr(1), nullptr, false));
      }
    }
    return messages;
  }

  void MakeFifo(const std::string& path) { ASSERT_EQ(mkfifo(path.c_str(), 0600), 0); }
  void ReleaseFifo(const std::string& path) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "go\n", 3), 3);
    close(fd);
  }

  test_support::TempDir dir_;
  std::vector<pid_t> started_;
};

TEST_F(StartWorkerTest, WorkerReceivesWelcomeWithAllRunnerCapabilities) {
  WriteScript({"wait-for welcome", "hello log", "exit 0"});
  ASSERT_EQ(RunToEnd(WriteConfig(Config())), 0) << ReadFile(runner_log());

  std::vector<nlohmann::json> messages = StdinMessages();
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(messages[0]["type"], "welcome");
  EXPECT_EQ(messages[0]["capabilities"], nlohmann::json({"error-report", "graceful-termination",
                                                         "log", "new-credentials", "shutdown"}));
}

TEST_F(StartWorkerTest, ForwardsWorkerLogsAndPlainText) {
  WriteScript({
      "wait-for welcome",
      "hello log,error-report",
      R"(send ~{"type":"log","body":{"textPayload":"claimed task 7","taskId":"abc"}})",
      "send panic: something printed without the tilde",
      R"(send ~{"type":"log"})",
      R"(send ~{"type":"error-report","kind":"worker-error","title":"t","description":"d","extra":null})",
      "send ~{not json",
      "exit 0",
  });
  ASSERT_EQ(RunToEnd(WriteConfig(Config())), 0) << ReadFile(runner_log());

  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, HasSubstr("worker: claimed task 7; taskId: abc"));
  EXPECT_THAT(log, HasSubstr("worker: panic: something printed without the tilde"));
  EXPECT_THAT(log, HasSubstr("received log message from worker lacking 'body' property"));
  EXPECT_THAT(log, HasSubstr("worker: ~{not json"));
  // The malformed error report is logged and dropped, and the run carries on to a clean exit.
  EXPECT_THAT(log, HasSubstr("extra"));
}

TEST_F(StartWorkerTest, WritesGenericWorkerConfigPrivatelyAndStartsItWithExactArgv) {
  WriteScript({"record-args " + dir_.File("argv"), "exit 0"});
  ASSERT_EQ(RunToEnd(WriteConfig(Config())), 0) << ReadFile(runner_log());

  EXPECT_EQ(ReadFile(dir_.File("argv")), absl::StrCat(kBin, "/fake-worker\nrun\n--config\n",
                                                      gw_config(), "\n--with-worker-runner\n"));
  EXPECT_EQ(test_support::FileMode(gw_config()), 0600);

  std::string text = ReadFile(gw_config());
  EXPECT_NE(text.back(), '\n');
  nlohmann::json config = nlohmann::json::parse(text);
  nlohmann::json expected = {
      {"accessToken", kAccessToken},
      {"cachesDir", "/var/cache/gw"},
      {"clientId", "project/ci/runner-test"},
      {"idleTimeoutSecs", 900},
      {"instanceType", "m5.large"},
      {"provisionerId", "proj-ci"},
      {"rootURL", "https://tc.example.invalid"},
      {"workerGroup", "office"},
      {"workerId", "desk-7"},
      {"workerLocation", R"({"cloud":"standalone","rack":"r12"})"},
      {"workerType", "linux"},
      {"workerTypeMetadata", {{"instance-type", "m5.large"}, {"owner", "ops@example.com"}}},
  };
  EXPECT_EQ(config, expected) << config.dump(2);
  // Integers stay integers: generic-worker refuses 900.0 for an integer setting.
  EXPECT_THAT(text, HasSubstr("\"idleTimeoutSecs\": 900,"));
}

TEST_F(StartWorkerTest, RunnerctlReportsLiveStatusAndSocketIsRemovedAtExit) {
  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  WriteScript(
      {"wait-for welcome", "hello log,graceful-termination", "wait-fifo " + fifo, "exit 0"});
  pid_t runner = StartRunner(WriteConfig(Config()));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)))
      << ReadFile(runner_log());

  auto text = test_support::RunCommand({kBin + "/runnerctl", "--socket", socket(), "status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("state:"));
  EXPECT_THAT(text.out, HasSubstr("running"));
  EXPECT_THAT(text.out, HasSubstr("office/desk-7"));
  EXPECT_THAT(text.out, HasSubstr("graceful-termination, log"));
  EXPECT_THAT(text.out, Not(HasSubstr(kAccessToken)));

  // The socket from the environment, JSON output.
  auto json = test_support::RunCommand({kBin + "/runnerctl", "-o", "json", "status"},
                                       {"WORKER_RUNNER_SOCKET=" + socket()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json status = nlohmann::json::parse(json.out);
  EXPECT_EQ(status["state"], "RUN_STATE_RUNNING");
  EXPECT_EQ(status["providerType"], "standalone");
  EXPECT_EQ(status["workerPoolId"], "proj-ci/linux");
  EXPECT_EQ(status["workerGroup"], "office");
  EXPECT_EQ(status["workerId"], "desk-7");
  EXPECT_EQ(status["workerLocation"], nlohmann::json({{"cloud", "standalone"}, {"rack", "r12"}}));
  EXPECT_EQ(status["workerImplementation"], "generic-worker");
  EXPECT_GT(status["workerPid"].get<int>(), 0);
  EXPECT_EQ(status["protocolNegotiated"], true);
  EXPECT_EQ(status["capabilities"], nlohmann::json({"graceful-termination", "log"}));
  EXPECT_FALSE(status["version"].get<std::string>().empty());
  EXPECT_TRUE(status.contains("uptime"));
  EXPECT_THAT(json.out, Not(HasSubstr(kAccessToken)));

  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(StartWorkerTest, WorkerFailureGivesNonZeroExit) {
  WriteScript({"wait-for welcome", "hello", "exit 3"});
  EXPECT_EQ(RunToEnd(WriteConfig(Config())), 1);
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("worker exited"));
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(StartWorkerTest, SigtermSendsGracefulTerminationAndCleansUp) {
  WriteScript({"wait-for welcome", "hello graceful-termination",
               "wait-for graceful-termination 20000", "exit 0"});
  pid_t runner = StartRunner(WriteConfig(Config()));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)));
  ASSERT_EQ(kill(runner, SIGTERM), 0);
  EXPECT_EQ(WaitRunner(runner), 6) << ReadFile(runner_log());

  std::vector<nlohmann::json> messages = StdinMessages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1],
            nlohmann::json({{"type", "graceful-termination"}, {"finish-tasks", false}}));
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(StartWorkerTest, SighupStopsTheRunLikeSigtermInsteadOfOrphaningTheWorker) {
  WriteScript({"wait-for welcome", "hello graceful-termination",
               "wait-for graceful-termination 20000", "exit 0"});
  pid_t runner = StartRunner(WriteConfig(Config()));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)));
  ASSERT_EQ(kill(runner, SIGHUP), 0);
  EXPECT_EQ(WaitRunner(runner), 6) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("reason=sighup"));
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(StartWorkerTest, SigtermTerminatesAWorkerWithoutGracefulTermination) {
  std::string fifo = dir_.File("never");
  MakeFifo(fifo);
  // The worker does not offer graceful-termination, so it is sent SIGTERM at once.
  WriteScript({"wait-for welcome", "hello log", "wait-fifo " + fifo, "exit 0"});
  pid_t runner = StartRunner(WriteConfig(Config()));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)));
  ASSERT_EQ(kill(runner, SIGINT), 0);
  EXPECT_EQ(WaitRunner(runner), 6) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("status=143"));
}

TEST_F(StartWorkerTest, SigtermWaitsTheConfiguredGracePeriodThenTerminatesTheWorker) {
  std::string fifo = dir_.File("never");
  MakeFifo(fifo);
  // The worker takes graceful-termination but ignores it.
  WriteScript({"wait-for welcome", "hello graceful-termination", "wait-fifo " + fifo, "exit 0"});
  pid_t runner = StartRunner(WriteConfig(Config("", "shutdown:\n  gracePeriod: 1s\n")));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)));
  absl::Time signalled = absl::Now();
  ASSERT_EQ(kill(runner, SIGTERM), 0);
  EXPECT_EQ(WaitRunner(runner, absl::Seconds(20)), 6) << ReadFile(runner_log());
  absl::Duration took = absl::Now() - signalled;
  EXPECT_GE(took, absl::Seconds(1));
  EXPECT_LT(took, absl::Seconds(15));  // far below the 30 s default
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("terminating worker"));
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("status=143"));
  EXPECT_EQ(StdinMessages().back(),
            nlohmann::json({{"type", "graceful-termination"}, {"finish-tasks", false}}));
}

TEST_F(StartWorkerTest, ASecondSigtermCutsTheGracePeriodShort) {
  std::string fifo = dir_.File("never");
  MakeFifo(fifo);
  WriteScript({"wait-for welcome", "hello graceful-termination", "wait-fifo " + fifo, "exit 0"});
  pid_t runner = StartRunner(WriteConfig(Config("", "shutdown:\n  gracePeriod: 10m\n")));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)));
  ASSERT_EQ(kill(runner, SIGTERM), 0);
  ASSERT_TRUE(test_support::WaitForFileToContain(runner_log(), "outcome=sent", absl::Seconds(20)));
  ASSERT_EQ(kill(runner, SIGTERM), 0);
  EXPECT_EQ(WaitRunner(runner, absl::Seconds(20)), 6) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("second stop request"));
}

TEST_F(StartWorkerTest, HelpListsEveryExitCode) {
  test_support::CommandResult help = test_support::RunCommand({kBin + "/start-worker", "--help"});
  for (const char* line :
       {"  0  ", "  1  ", "  3  ", "  4  ", "  5  ", "  6  ", "  7  ", "  8  "}) {
    EXPECT_THAT(help.out, HasSubstr(line));
  }
  EXPECT_THAT(help.out, HasSubstr("exited 67"));
}

TEST_F(StartWorkerTest, DummyWorkerRunsAndItsDumpHidesTheAccessToken) {
  ASSERT_EQ(RunToEnd(WriteConfig(Config("worker:\n  implementation: dummy\n"))), 0)
      << ReadFile(runner_log());
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, HasSubstr("dummy: run state"));
  EXPECT_THAT(log, HasSubstr("\"workerPoolId\":\"proj-ci/linux\""));
  EXPECT_THAT(log, Not(HasSubstr(kAccessToken)));
}

TEST_F(StartWorkerTest, NoCredentialEverAppearsInTheLog) {
  WriteScript({"wait-for welcome", "hello log",
               absl::StrCat("send worker echoes its token ", kAccessToken), "exit 0"});
  ASSERT_EQ(RunToEnd(WriteConfig(Config())), 0);
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, Not(HasSubstr(kAccessToken)));
  EXPECT_THAT(log, HasSubstr("worker echoes its token [redacted]"));
}

TEST_F(StartWorkerTest, UnknownApiGroupIsAConfigErrorAndNoWorkerStarts) {
  std::string path = WriteConfig(Config("", "  group: no-such-group-for-runner-tests\n"));
  EXPECT_EQ(RunToEnd(path), 3);
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, HasSubstr("api.group no-such-group-for-runner-tests: no such group"));
  EXPECT_THAT(log, Not(HasSubstr("worker started")));
  EXPECT_FALSE(test_support::PathExists(gw_config()));
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(StartWorkerTest, InvalidConfigExitsWithConfigCodeNamingFileAndLine) {
  std::string config = Config();
  config.replace(config.find("workerID: desk-7"), 16, "workerID: 12345");
  std::string path = WriteConfig(config);
  EXPECT_EQ(RunToEnd(path), 3);
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, HasSubstr(path));
  EXPECT_THAT(log, HasSubstr("line 8"));
  EXPECT_THAT(log, HasSubstr("provider.workerID"));
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(StartWorkerTest, SecondRunnerOnALiveSocketIsRefused) {
  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  WriteScript({"wait-for welcome", "hello", "wait-fifo " + fifo, "exit 0"});
  pid_t first = StartRunner(WriteConfig(Config()));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)));

  std::string second_log = dir_.File("second.log");
  pid_t second = StartRunner(WriteConfig(Config(), "second.yaml"), second_log);
  EXPECT_EQ(WaitRunner(second), 4);
  EXPECT_THAT(ReadFile(second_log), HasSubstr("another runner is already serving"));
  // The first runner's socket survives the refused second one.
  EXPECT_TRUE(test_support::PathExists(socket()));

  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(first), 0);
}

TEST_F(StartWorkerTest, StaleSocketFromADeadRunnerIsReplaced) {
  // A socket file nobody listens on, as a killed runner leaves behind.
  WriteScript({"wait-for welcome", "hello", "exit 0"});
  LeaveStaleSocket(socket());
  ASSERT_TRUE(test_support::PathExists(socket()));

  EXPECT_EQ(RunToEnd(WriteConfig(Config())), 0) << ReadFile(runner_log());
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(StartWorkerTest, MissingWorkerProgramGivesWorkerStartCode) {
  std::string worker = absl::StrCat(
      "worker:\n  implementation: generic-worker\n  path: ", dir_.File("no-such-worker"),
      "\n  configPath: ", gw_config(), "\n");
  EXPECT_EQ(RunToEnd(WriteConfig(Config(worker))), 5);
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("no-such-worker"));
}

TEST_F(StartWorkerTest, WorkerWhoseChildKeepsStdoutOpenStillEndsTheRun) {
  WriteScript({"wait-for welcome", "hello", "background-holder", "send last words", "exit 0"});
  EXPECT_EQ(RunToEnd(WriteConfig(Config())), 0);
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("worker: last words"));
}

TEST_F(StartWorkerTest, VersionAndHelp) {
  auto version = test_support::RunCommand({kBin + "/start-worker", "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.out, ::testing::StartsWith("start-worker "));
  auto short_version = test_support::RunCommand({kBin + "/start-worker", "--short-version"});
  EXPECT_EQ(short_version.exit_code, 0);
  EXPECT_EQ(version.out, "start-worker " + short_version.out);
  auto help = test_support::RunCommand({kBin + "/start-worker", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: start-worker"));
  auto usage = test_support::RunCommand({kBin + "/start-worker"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("usage: start-worker"));
}

TEST_F(StartWorkerTest, RunnerctlWithoutARunnerGivesOneLineError) {
  auto missing = test_support::RunCommand(
      {kBin + "/runnerctl", "--socket", dir_.File("nothing.sock"), "status"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr("no runner at"));
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1);

  // A socket file with nobody behind it: refused.
  LeaveStaleSocket(socket());
  auto refused = test_support::RunCommand({kBin + "/runnerctl", "--socket", socket(), "status"});
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_EQ(std::count(refused.err.begin(), refused.err.end(), '\n'), 1) << refused.err;

  auto usage = test_support::RunCommand({kBin + "/runnerctl", "frobnicate"});
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
}  // namespace runner
