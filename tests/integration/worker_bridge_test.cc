// End-to-end tests of attached workers: the real start-worker with worker.implementation
// external, and the real worker-bridge running the scripted fake worker and attaching it over
// the runner's socket. Everything lives in a temporary directory; the one Taskcluster service
// used is the local fake on 127.0.0.1.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/process_util.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner {
namespace {

using nlohmann::json;
using test_support::ReadFile;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBin = RUNNER_BIN_DIR;
constexpr char kAccessToken[] = "TESTONLY-bridge-access-token-0123456789abcdef";
constexpr char kPool[] = "proj-ci/attached";

class WorkerBridgeTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t pid : started_) test_support::KillProcess(pid);
  }

  std::string socket() const { return dir_.File("api.sock"); }
  std::string runner_log() const { return dir_.File("runner.log"); }
  std::string bridge_log(int n = 1) const { return dir_.File(absl::StrCat("bridge", n, ".log")); }
  std::string stdin_log() const { return dir_.File("worker-stdin.log"); }

  // A standalone runner whose worker attaches. `root_url` is only contacted when the worker
  // reports an error, so the default names a host that is never asked.
  std::string Config(const std::string& root_url = "https://tc.example.invalid/",
                     const std::string& worker = "worker:\n  implementation: external\n") const {
    return absl::StrCat("provider:\n  providerType: standalone\n  rootURL: ", root_url,
                        "\n  clientID: project/ci/bridge-test\n  accessToken: ", kAccessToken,
                        "\n  workerPoolID: ", kPool,
                        "\n  workerGroup: office\n  workerID: desk-9\n", worker,
                        "getSecrets: false\napi:\n  socket: ", socket(), "\n");
  }

  void WriteScript(const std::vector<std::string>& lines) {
    test_support::WriteFile(dir_.File("script"), absl::StrJoin(lines, "\n") + "\n");
  }

  std::vector<std::string> WorkerEnv() const {
    return {"FAKE_WORKER_SCRIPT=" + dir_.File("script"), "FAKE_WORKER_STDIN_LOG=" + stdin_log()};
  }

  // Starts start-worker on `config` and waits until its socket is there.
  pid_t StartRunner(const std::string& config) {
    std::string path = dir_.File("runner.yaml");
    test_support::WriteFile(path, config, 0600);
    pid_t pid =
        test_support::StartProcess({kBin + "/start-worker", path}, WorkerEnv(), "", runner_log());
    EXPECT_GT(pid, 0);
    started_.push_back(pid);
    EXPECT_TRUE(test_support::WaitForPath(socket(), absl::Seconds(20))) << ReadFile(runner_log());
    return pid;
  }

  pid_t StartBridge(int n = 1, std::vector<std::string> program = {}) {
    if (program.empty()) program = {kBin + "/fake-worker"};
    std::vector<std::string> argv = {kBin + "/worker-bridge", "--socket", socket(), "--"};
    argv.insert(argv.end(), program.begin(), program.end());
    pid_t pid = test_support::StartProcess(argv, WorkerEnv(), "", bridge_log(n));
    EXPECT_GT(pid, 0);
    started_.push_back(pid);
    return pid;
  }

  int Wait(pid_t pid, const std::string& log_path) {
    std::optional<int> code = test_support::WaitProcess(pid, absl::Seconds(30));
    EXPECT_TRUE(code.has_value()) << "did not exit; log:\n" << ReadFile(log_path);
    return code.value_or(-1);
  }

  bool LogShows(const std::string& path, const std::string& text) {
    return test_support::WaitForFileToContain(path, text, absl::Seconds(20));
  }

  std::vector<json> StdinMessages() const {
    std::vector<json> messages;
    for (absl::string_view line : absl::StrSplit(ReadFile(stdin_log()), '\n', absl::SkipEmpty())) {
      if (line.size() > 1 && line[0] == '~') messages.push_back(json::parse(line.substr(1)));
    }
    return messages;
  }

  std::string MakeFifo(const std::string& name) {
    std::string path = dir_.File(name);
    EXPECT_EQ(mkfifo(path.c_str(), 0600), 0);
    return path;
  }
  void ReleaseFifo(const std::string& path) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "go\n", 3), 3);
    close(fd);
  }

  test_support::TempDir dir_;
  std::vector<pid_t> started_;
};

TEST_F(WorkerBridgeTest, NegotiatesThroughTheBridgeAndForwardsLogsAndShutdown) {
  WriteScript({
      "wait-for welcome",
      "hello log,shutdown",
      R"(send ~{"type":"log","body":{"textPayload":"claimed task 7","taskId":"abc"}})",
      "send panic: something printed without the tilde",
      R"(send ~{"type":"log"})",
      "send ~{not json",
      R"(send ~{"type":"shutdown"})",
      "exit 0",
  });
  pid_t runner = StartRunner(Config());
  pid_t bridge = StartBridge();
  EXPECT_EQ(Wait(bridge, bridge_log()), 0) << ReadFile(bridge_log()) << ReadFile(runner_log());
  EXPECT_EQ(Wait(runner, runner_log()), 0) << ReadFile(runner_log());

  std::vector<json> messages = StdinMessages();
  ASSERT_FALSE(messages.empty());
  EXPECT_EQ(
      messages[0],
      json({{"type", "welcome"},
            {"capabilities",
             {"error-report", "graceful-termination", "log", "new-credentials", "shutdown"}}}));
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, HasSubstr("waiting for a worker to attach"));
  EXPECT_THAT(log, HasSubstr("protocol negotiated capabilities=log,shutdown"));
  EXPECT_THAT(log, HasSubstr("worker: claimed task 7; taskId: abc"));
  EXPECT_THAT(log, HasSubstr("worker: panic: something printed without the tilde"));
  EXPECT_THAT(log, HasSubstr("received log message from worker lacking 'body' property"));
  EXPECT_THAT(log, HasSubstr("worker: ~{not json"));
  EXPECT_THAT(log, HasSubstr("worker asked to shut down"));
  EXPECT_THAT(log, HasSubstr("worker exited implementation=external status=0"));
  EXPECT_THAT(log, Not(HasSubstr(kAccessToken)));
  // Nothing of the protocol leaks to the bridge's own output.
  EXPECT_THAT(ReadFile(bridge_log()), Not(HasSubstr("claimed task 7")));
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(WorkerBridgeTest, ErrorReportFromAnAttachedWorkerReachesWorkerManager) {
  auto fake = fakes::FakeTaskclusterProcess::Start(
      {{"clients", {{"project/ci/bridge-test", kAccessToken}}}});
  ASSERT_TRUE(fake.ok()) << fake.status();
  WriteScript({
      "wait-for welcome",
      "hello error-report,log",
      R"(send ~{"type":"error-report","kind":"worker-error","title":"disk too small","description":"need more","extra":{"free":"1G"}})",
      "exit 0",
  });
  pid_t runner = StartRunner(Config((*fake)->root_url()));
  pid_t bridge = StartBridge();
  EXPECT_EQ(Wait(bridge, bridge_log()), 0) << ReadFile(bridge_log());
  EXPECT_EQ(Wait(runner, runner_log()), 0) << ReadFile(runner_log()) << (*fake)->Stderr();

  std::vector<json> reports;
  for (const json& request : (*fake)->Requests()) {
    if (request["method"] == "POST" &&
        request["path"] == "/api/worker-manager/v1/worker-pool-errors/proj-ci%2Fattached") {
      reports.push_back(request);
    }
  }
  ASSERT_EQ(reports.size(), 1u) << ReadFile(runner_log());
  EXPECT_EQ(reports[0]["hawkVerified"], true);
  EXPECT_EQ(reports[0]["body"], json({{"workerGroup", "office"},
                                      {"workerId", "desk-9"},
                                      {"kind", "worker-error"},
                                      {"title", "disk too small"},
                                      {"description", "need more"},
                                      {"extra", {{"free", "1G"}}}}));
}

TEST_F(WorkerBridgeTest, SigtermToTheRunnerReachesTheWorkerAsGracefulTermination) {
  WriteScript({"wait-for welcome", "hello graceful-termination",
               "wait-for graceful-termination 20000", "exit 0"});
  pid_t runner = StartRunner(Config());
  pid_t bridge = StartBridge();
  ASSERT_TRUE(LogShows(runner_log(), "protocol negotiated")) << ReadFile(runner_log());
  ASSERT_EQ(kill(runner, SIGTERM), 0);
  EXPECT_EQ(Wait(bridge, bridge_log()), 0) << ReadFile(bridge_log());
  EXPECT_EQ(Wait(runner, runner_log()), 6) << ReadFile(runner_log());

  std::vector<json> messages = StdinMessages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[1], json({{"type", "graceful-termination"}, {"finish-tasks", false}}));
  EXPECT_THAT(ReadFile(bridge_log()), Not(HasSubstr("asked to signal the worker")));
}

TEST_F(WorkerBridgeTest, StopEscalatesThroughTheBridgeToSigkillForAWorkerThatIgnoresSigterm) {
  std::string never = MakeFifo("never");
  // No graceful-termination offered: the runner goes straight to SIGTERM, which the worker
  // ignores, so SIGKILL follows after the kill grace period (5 s).
  WriteScript({"ignore-sigterm", "wait-for welcome", "hello log", "wait-fifo " + never, "exit 0"});
  pid_t runner = StartRunner(Config());
  pid_t bridge = StartBridge();
  ASSERT_TRUE(LogShows(runner_log(), "protocol negotiated")) << ReadFile(runner_log());
  ASSERT_EQ(kill(runner, SIGINT), 0);
  EXPECT_EQ(Wait(bridge, bridge_log()), 128 + SIGKILL) << ReadFile(bridge_log());
  EXPECT_EQ(Wait(runner, runner_log()), 6) << ReadFile(runner_log());

  std::string bridge_text = ReadFile(bridge_log());
  EXPECT_THAT(bridge_text, HasSubstr("the runner asked to signal the worker signal=SIGTERM"));
  EXPECT_THAT(bridge_text, HasSubstr("the runner asked to signal the worker signal=SIGKILL"));
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, HasSubstr("killing worker"));
  EXPECT_THAT(log, HasSubstr("worker exited implementation=external status=137"));
}

TEST_F(WorkerBridgeTest, WorkerExitStatusBecomesTheBridgesAndFailsTheRun) {
  WriteScript({"wait-for welcome", "hello", "exit 3"});
  pid_t runner = StartRunner(Config());
  pid_t bridge = StartBridge();
  EXPECT_EQ(Wait(bridge, bridge_log()), 3) << ReadFile(bridge_log());
  EXPECT_EQ(Wait(runner, runner_log()), 1) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("worker exited implementation=external status=3"));
}

TEST_F(WorkerBridgeTest, SecondBridgeIsRefusedWhileAWorkerIsAttached) {
  std::string release = MakeFifo("release");
  WriteScript({"wait-for welcome", "hello", "wait-fifo " + release, "exit 0"});
  pid_t runner = StartRunner(Config());
  pid_t first = StartBridge(1);
  ASSERT_TRUE(LogShows(runner_log(), "protocol negotiated")) << ReadFile(runner_log());

  pid_t second = StartBridge(2);
  EXPECT_EQ(Wait(second, bridge_log(2)), 122);
  std::string refusal = ReadFile(bridge_log(2));
  EXPECT_THAT(refusal, HasSubstr("refused the worker: a worker is already attached"));
  // The refused bridge never started its program.
  EXPECT_EQ(StdinMessages().size(), 1u);

  ReleaseFifo(release);
  EXPECT_EQ(Wait(first, bridge_log(1)), 0);
  EXPECT_EQ(Wait(runner, runner_log()), 0) << ReadFile(runner_log());
}

TEST_F(WorkerBridgeTest, RunnerThatStartsItsOwnWorkerRefusesABridge) {
  std::string release = MakeFifo("release");
  WriteScript({"wait-for welcome", "hello", "wait-fifo " + release, "exit 0"});
  std::string own = absl::StrCat("worker:\n  implementation: generic-worker\n  path: ", kBin,
                                 "/fake-worker\n  configPath: ", dir_.File("gw.json"), "\n");
  pid_t runner = StartRunner(Config("https://tc.example.invalid/", own));
  ASSERT_TRUE(LogShows(runner_log(), "protocol negotiated")) << ReadFile(runner_log());

  pid_t bridge = StartBridge();
  EXPECT_EQ(Wait(bridge, bridge_log()), 122);
  EXPECT_THAT(ReadFile(bridge_log()), HasSubstr("this runner starts its own worker"));

  ReleaseFifo(release);
  EXPECT_EQ(Wait(runner, runner_log()), 0) << ReadFile(runner_log());
}

TEST_F(WorkerBridgeTest, BridgeAimedAtAMissingSocketFailsWithOneLine) {
  auto missing = test_support::RunCommand(
      {kBin + "/worker-bridge", "--socket", dir_.File("nothing.sock"), "--", "/bin/true"});
  EXPECT_EQ(missing.exit_code, 120);
  EXPECT_THAT(missing.err, HasSubstr("no runner at " + dir_.File("nothing.sock")));
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;

  // The socket from the environment; a plain file where the socket should be.
  std::string stale = dir_.File("stale.sock");
  test_support::WriteFile(stale, "");
  auto not_socket = test_support::RunCommand({kBin + "/worker-bridge", "--", "/bin/true"},
                                             {"WORKER_RUNNER_SOCKET=" + stale});
  EXPECT_EQ(not_socket.exit_code, 120);
  EXPECT_THAT(not_socket.err, HasSubstr("not a socket"));
}

TEST_F(WorkerBridgeTest, ProgramThatCannotStartEndsBothWithStartFailure) {
  pid_t runner = StartRunner(Config());
  pid_t bridge = StartBridge(1, {dir_.File("no-such-worker")});
  EXPECT_EQ(Wait(bridge, bridge_log()), 127) << ReadFile(bridge_log());
  EXPECT_THAT(ReadFile(bridge_log()), HasSubstr("cannot start"));
  EXPECT_EQ(Wait(runner, runner_log()), 5) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("no-such-worker"));
}

TEST_F(WorkerBridgeTest, WorkerKeepsRunningWhenTheRunnerGoesAway) {
  std::string release = MakeFifo("release");
  WriteScript({"wait-for welcome", "hello log", "wait-fifo " + release,
               "send said after the runner went away", "exit 4"});
  pid_t runner = StartRunner(Config());
  pid_t bridge = StartBridge();
  ASSERT_TRUE(LogShows(runner_log(), "protocol negotiated")) << ReadFile(runner_log());
  ASSERT_EQ(kill(runner, SIGKILL), 0);
  EXPECT_EQ(Wait(runner, runner_log()), 128 + SIGKILL);
  ASSERT_TRUE(LogShows(bridge_log(), "lost the runner")) << ReadFile(bridge_log());

  ReleaseFifo(release);
  EXPECT_EQ(Wait(bridge, bridge_log()), 4);
  EXPECT_THAT(ReadFile(bridge_log()), HasSubstr("said after the runner went away"));
}

TEST_F(WorkerBridgeTest, StopBeforeAnyWorkerAttachedEndsTheRun) {
  pid_t runner = StartRunner(Config());
  ASSERT_TRUE(LogShows(runner_log(), "waiting for a worker to attach"));
  ASSERT_EQ(kill(runner, SIGTERM), 0);
  EXPECT_EQ(Wait(runner, runner_log()), 6) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("stopped before a worker attached"));
}

TEST_F(WorkerBridgeTest, HelpAndUsage) {
  auto help = test_support::RunCommand({kBin + "/worker-bridge", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: worker-bridge [--socket PATH] -- PROGRAM"));
  EXPECT_THAT(help.out, HasSubstr("122"));
  auto usage = test_support::RunCommand({kBin + "/worker-bridge", "--socket", socket()});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, HasSubstr("no worker program given"));
}

}  // namespace
}  // namespace runner
