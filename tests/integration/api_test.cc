// The local API end to end: the real start-worker (standalone provider, scripted fake worker)
// answering the real runnerctl, callers with other uids and groups, and a gRPC client written
// in Node without any of our code. Everything stays in a temporary directory.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "proto/runner.grpc.pb.h"
#include "tests/fakes/process_util.h"

namespace runner {
namespace {

using test_support::ReadFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAccessToken[] = "TESTONLY-api-access-token-0123456789abcdefghij";
const std::string kBin = RUNNER_BIN_DIR;
const std::string kSource = RUNNER_SOURCE_DIR;

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (const std::string& line : Lines(text)) out.push_back(nlohmann::json::parse(line));
  return out;
}

struct Released {
  int exit_code = -1;
  std::string out, err;
};

// Runs `argv` as `uid` with primary group `gid` and exactly `groups` as supplementary groups
// (needs root), capturing its output in files of `dir`.
Released RunAs(uid_t uid, gid_t gid, const std::vector<gid_t>& groups,
               const std::vector<std::string>& argv, const std::string& dir) {
  std::string out_path = dir + "/as-out", err_path = dir + "/as-err";
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    if (setgroups(groups.size(), groups.data()) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
      _exit(120);
    }
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(121);
  }
  close(out);
  close(err);
  Released result;
  std::optional<int> code = test_support::WaitProcess(pid, absl::Seconds(20));
  if (!code.has_value()) test_support::KillProcess(pid);
  result.exit_code = code.value_or(-1);
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Other users must reach the socket's directory, as under /run.
    chmod(dir_.path().c_str(), 0755);
  }
  void TearDown() override {
    for (pid_t pid : started_) test_support::KillProcess(pid);
  }

  std::string socket() const { return dir_.File("api/api.sock"); }
  std::string runner_log() const { return dir_.File("runner.log"); }
  std::string stdin_log() const { return dir_.File("worker-stdin.log"); }

  std::string WriteConfig(const std::string& api_extra = "") {
    std::string config = absl::StrCat(
        "provider:\n"
        "  providerType: standalone\n"
        "  rootURL: https://tc.example.invalid\n"
        "  clientID: project/ci/api-test\n"
        "  accessToken: ",
        kAccessToken,
        "\n"
        "  workerPoolID: proj-ci/linux\n"
        "  workerGroup: office\n"
        "  workerID: desk-9\n"
        "worker:\n"
        "  implementation: generic-worker\n"
        "  path: ",
        kBin, "/fake-worker\n  configPath: ", dir_.File("gw-config.json"),
        "\n"
        "workerConfig:\n"
        "  cachesDir: /var/cache/gw\n"
        "getSecrets: false\n"
        "api:\n"
        "  socket: ",
        socket(), "\n", api_extra);
    std::string path = dir_.File("runner.yaml");
    test_support::WriteFile(path, config, 0600);
    return path;
  }

  // Starts the runner with a worker that negotiates, then waits on `fifo` until released; it
  // exits 0 after graceful-termination arrives (or the FIFO is released).
  pid_t StartRunner(const std::string& config_path, const std::vector<std::string>& script) {
    test_support::WriteFile(dir_.File("script"), absl::StrJoin(script, "\n") + "\n", 0600);
    pid_t pid = test_support::StartProcess(
        {kBin + "/start-worker", config_path},
        {"FAKE_WORKER_SCRIPT=" + dir_.File("script"), "FAKE_WORKER_STDIN_LOG=" + stdin_log()}, "",
        runner_log());
    EXPECT_GT(pid, 0);
    started_.push_back(pid);
    EXPECT_TRUE(
        test_support::WaitForFileToContain(runner_log(), "protocol negotiated", absl::Seconds(20)))
        << ReadFile(runner_log());
    return pid;
  }

  int WaitRunner(pid_t pid) {
    std::optional<int> code = test_support::WaitProcess(pid, absl::Seconds(30));
    EXPECT_TRUE(code.has_value()) << "start-worker did not exit; log:\n" << ReadFile(runner_log());
    return code.value_or(-1);
  }

  test_support::CommandResult Runnerctl(std::vector<std::string> args) {
    args.insert(args.begin(), {kBin + "/runnerctl", "--socket", socket()});
    return test_support::RunCommand(args);
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

TEST_F(ApiTest, EveryRunnerctlCommandAgainstALiveRunner) {
  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  pid_t runner = StartRunner(
      WriteConfig(), {"wait-for welcome", "hello log,graceful-termination",
                      "wait-for graceful-termination 20000", "wait-fifo " + fifo, "exit 0"});

  // A follower from the start, in JSON, until the runner stops.
  std::string follow_out = dir_.File("follow.out");
  pid_t follower = test_support::StartProcess(
      {kBin + "/runnerctl", "--socket", socket(), "-o", "json", "events", "--follow"}, {},
      follow_out, dir_.File("follow.err"));
  started_.push_back(follower);

  auto status = Runnerctl({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("office/desk-9"));

  // config: the derived configuration with the access token redacted.
  auto config = Runnerctl({"config"});
  ASSERT_EQ(config.exit_code, 0) << config.err;
  EXPECT_THAT(config.out, HasSubstr("\"cachesDir\": \"/var/cache/gw\""));
  EXPECT_THAT(config.out, HasSubstr("\"accessToken\": \"[redacted]\""));
  EXPECT_THAT(config.out, HasSubstr("redacted: /accessToken"));
  EXPECT_THAT(config.out, Not(HasSubstr(kAccessToken)));
  auto config_json = Runnerctl({"-o", "json", "config"});
  ASSERT_EQ(config_json.exit_code, 0);
  nlohmann::json parsed = nlohmann::json::parse(config_json.out);
  EXPECT_EQ(parsed["config"]["workerId"], "desk-9");
  EXPECT_EQ(parsed["config"]["accessToken"], "[redacted]");

  // events: current state first, then the run so far.
  auto events = Runnerctl({"-o", "json", "events"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  std::vector<nlohmann::json> seen = JsonLines(events.out);
  ASSERT_GE(seen.size(), 4u);
  EXPECT_EQ(seen[0]["kind"], "EVENT_KIND_CURRENT_STATE");
  EXPECT_EQ(seen[0]["currentState"]["workerId"], "desk-9");
  std::vector<std::string> changes;
  for (const auto& event : seen) {
    if (event["kind"] == "EVENT_KIND_WORKER_STATE") {
      changes.push_back(event["workerState"]["change"]);
    }
  }
  EXPECT_THAT(changes, ::testing::ElementsAre("CHANGE_STARTED", "CHANGE_NEGOTIATED"));
  uint64_t started_sequence = 0;
  for (const auto& event : seen) {
    if (event["kind"] == "EVENT_KIND_WORKER_STATE" && started_sequence == 0) {
      started_sequence = std::stoull(event["sequence"].get<std::string>());
    }
  }

  // Resume after the worker started, only worker-state: the negotiation alone.
  auto resumed = Runnerctl({"-o", "json", "events", "--since", absl::StrCat(started_sequence),
                            "--kind", "worker-state"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  std::vector<nlohmann::json> after = JsonLines(resumed.out);
  ASSERT_EQ(after.size(), 2u) << resumed.out;
  EXPECT_EQ(after[1]["workerState"]["change"], "CHANGE_NEGOTIATED");

  // Text output: aligned columns, kind names.
  auto text = Runnerctl({"events", "--kind=worker-state"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("current-state"));
  EXPECT_THAT(text.out, HasSubstr("worker-state     started, pid "));
  EXPECT_THAT(text.out, HasSubstr(" ago)"));

  // drain: the worker gets graceful-termination with finish-tasks as asked, once.
  auto drain = Runnerctl({"drain", "--finish-tasks"});
  ASSERT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_THAT(drain.out, HasSubstr("drain: sent"));
  ASSERT_TRUE(
      test_support::WaitForFileToContain(stdin_log(), "graceful-termination", absl::Seconds(10)));
  EXPECT_THAT(ReadFile(stdin_log()), HasSubstr(R"("finish-tasks":true)"));
  auto again = Runnerctl({"-o", "json", "drain"});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(again.out)["outcome"], "DRAIN_OUTCOME_ALREADY_SENT");

  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
  EXPECT_FALSE(test_support::PathExists(socket()));

  // The follower saw the drain, the worker's exit and the final event, and ended cleanly.
  std::optional<int> follower_code = test_support::WaitProcess(follower, absl::Seconds(10));
  ASSERT_TRUE(follower_code.has_value());
  EXPECT_EQ(*follower_code, 0) << ReadFile(dir_.File("follow.err"));
  std::vector<nlohmann::json> followed = JsonLines(ReadFile(follow_out));
  ASSERT_FALSE(followed.empty());
  EXPECT_EQ(followed.front()["kind"], "EVENT_KIND_CURRENT_STATE");
  EXPECT_EQ(followed.back()["kind"], "EVENT_KIND_RUNNER_STOPPING");
  std::vector<std::string> kinds;
  for (const auto& event : followed) kinds.push_back(event["kind"]);
  EXPECT_THAT(kinds, ::testing::Contains("EVENT_KIND_DRAIN"));
  auto drained = std::find_if(followed.begin(), followed.end(), [](const nlohmann::json& e) {
    return e["kind"] == "EVENT_KIND_DRAIN";
  });
  EXPECT_EQ((*drained)["drain"]["finishTasks"], true);
  EXPECT_EQ((*drained)["drain"]["outcome"], "DRAIN_OUTCOME_SENT");
  bool exited = std::any_of(followed.begin(), followed.end(), [](const nlohmann::json& e) {
    return e["kind"] == "EVENT_KIND_WORKER_STATE" && e["workerState"]["change"] == "CHANGE_EXITED";
  });
  EXPECT_TRUE(exited);
}

// A follower that stops reading (its process is stopped) is cut off with RESOURCE_EXHAUSTED,
// while another follower gets every event and the runner keeps answering.
TEST_F(ApiTest, StalledFollowerIsCutOffWhileOthersKeepUp) {
  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  pid_t runner =
      StartRunner(WriteConfig(), {"wait-for welcome", "hello log", "wait-fifo " + fifo, "exit 0"});
  const std::string runnerctl = kBin + "/runnerctl";
  std::string stalled_out = dir_.File("stalled.out"), stalled_err = dir_.File("stalled.err");
  pid_t stalled = test_support::StartProcess({runnerctl, "--socket", socket(), "events", "-f"}, {},
                                             stalled_out, stalled_err);
  started_.push_back(stalled);
  ASSERT_TRUE(test_support::WaitForFileToContain(stalled_out, "current-state", absl::Seconds(10)));
  ASSERT_EQ(kill(stalled, SIGSTOP), 0);

  // The reading follower counts drain events as they arrive.
  auto stub = workerrunner::v1::Runner::NewStub(
      grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials()));
  absl::Mutex mu;
  bool subscribed = false;
  int drains_seen = 0;
  grpc::ClientContext reader_context;
  workerrunner::v1::WatchEventsRequest follow;
  follow.set_follow(true);
  follow.add_kinds(workerrunner::v1::EVENT_KIND_DRAIN);
  auto reader = stub->WatchEvents(&reader_context, follow);
  std::thread reading([&] {
    workerrunner::v1::Event event;
    while (reader->Read(&event)) {
      absl::MutexLock lock(&mu);
      subscribed = true;
      if (event.kind() == workerrunner::v1::EVENT_KIND_DRAIN) ++drains_seen;
    }
  });
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&subscribed), absl::Seconds(10)));
  }

  // Each drain is one event; far more than the stalled follower's window and queue hold. They
  // come in bursts that the reading follower keeps up with.
  constexpr int kBursts = 15, kPerBurst = 400;
  for (int burst = 1; burst <= kBursts; ++burst) {
    for (int i = 0; i < kPerBurst; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      workerrunner::v1::DrainResponse response;
      grpc::Status result = stub->Drain(&context, {}, &response);
      ASSERT_TRUE(result.ok()) << "drain: " << result.error_message();
    }
    absl::MutexLock lock(&mu);
    auto caught_up = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return drains_seen >= burst * kPerBurst;
    };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&caught_up), absl::Seconds(30)))
        << "the reading follower fell behind: " << drains_seen << " of " << burst * kPerBurst;
  }
  auto status = Runnerctl({"status"});
  EXPECT_EQ(status.exit_code, 0) << status.err;

  // Woken up, the stalled follower reads what was sent before the cut, then the reason.
  ASSERT_EQ(kill(stalled, SIGCONT), 0);
  std::optional<int> stalled_code = test_support::WaitProcess(stalled, absl::Seconds(20));
  ASSERT_TRUE(stalled_code.has_value());
  EXPECT_EQ(*stalled_code, 1);
  EXPECT_THAT(ReadFile(stalled_err), HasSubstr("subscriber too slow"));
  EXPECT_THAT(ReadFile(stalled_err), HasSubstr("events dropped; resume with since="));

  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(runner), 0);
  reading.join();
  EXPECT_TRUE(reader->Finish().ok());
}

// A drain that reached the worker is the graceful-termination of the run: a stop request after
// it gives the worker its grace period instead of SIGTERM at once.
TEST_F(ApiTest, StopAfterADrainStillWaitsForTheWorker) {
  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  pid_t runner = StartRunner(
      WriteConfig(), {"wait-for welcome", "hello graceful-termination",
                      "wait-for graceful-termination 20000", "wait-fifo " + fifo, "exit 0"});
  auto drain = Runnerctl({"drain", "--finish-tasks"});
  ASSERT_EQ(drain.exit_code, 0) << drain.err;
  EXPECT_THAT(drain.out, HasSubstr("drain: sent"));

  ASSERT_EQ(kill(runner, SIGTERM), 0);
  ASSERT_TRUE(
      test_support::WaitForFileToContain(runner_log(), "stop requested", absl::Seconds(10)));
  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(runner), 6);
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, Not(HasSubstr("terminating worker")));
  EXPECT_THAT(log, HasSubstr("worker exited"));
  EXPECT_THAT(log, HasSubstr("status=0"));
}

TEST_F(ApiTest, HelpForEveryCommandAndUsageErrors) {
  for (const char* command : {"status", "config", "events", "drain"}) {
    SCOPED_TRACE(command);
    auto help = test_support::RunCommand({kBin + "/runnerctl", command, "--help"});
    EXPECT_EQ(help.exit_code, 0);
    EXPECT_THAT(help.out, HasSubstr(absl::StrCat("usage: runnerctl")));
    EXPECT_THAT(help.out, HasSubstr(command));
    EXPECT_THAT(help.out, HasSubstr("exit status"));
  }
  auto bad_kind = test_support::RunCommand({kBin + "/runnerctl", "events", "--kind", "nonsense"});
  EXPECT_EQ(bad_kind.exit_code, 2);
  EXPECT_THAT(bad_kind.err, HasSubstr("unknown event kind nonsense"));
  auto misplaced = test_support::RunCommand({kBin + "/runnerctl", "status", "--follow"});
  EXPECT_EQ(misplaced.exit_code, 2);
  auto bad_since = test_support::RunCommand({kBin + "/runnerctl", "events", "--since", "x"});
  EXPECT_EQ(bad_since.exit_code, 2);
}

TEST_F(ApiTest, ReadingIsForTheApiGroupAndDrainOnlyForRootAndTheRunnersUser) {
  if (getuid() != 0) GTEST_SKIP() << "switching to another uid needs root";
  struct group* users = getgrnam("users");
  ASSERT_NE(users, nullptr) << "the test needs the standard group 'users'";
  const gid_t api_gid = users->gr_gid;
  constexpr uid_t kNobody = 65534;
  constexpr gid_t kNogroup = 65534;

  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  pid_t runner = StartRunner(
      WriteConfig("  group: users\n"),
      {"wait-for welcome", "hello graceful-termination", "wait-fifo " + fifo, "exit 0"});
  struct stat info;
  ASSERT_EQ(stat(socket().c_str(), &info), 0);
  EXPECT_EQ(info.st_gid, api_gid);
  EXPECT_EQ(info.st_mode & 0777, 0660u);
  ASSERT_EQ(stat(dir_.File("api").c_str(), &info), 0);
  EXPECT_EQ(info.st_gid, api_gid);
  EXPECT_EQ(info.st_mode & 0777, 0750u);

  const std::string runnerctl = kBin + "/runnerctl";
  // A member of api.group (as a supplementary group) reads status and events...
  Released status =
      RunAs(kNobody, kNogroup, {api_gid}, {runnerctl, "--socket", socket(), "status"}, dir_.path());
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_THAT(status.out, HasSubstr("office/desk-9"));
  Released events =
      RunAs(kNobody, kNogroup, {api_gid}, {runnerctl, "--socket", socket(), "events"}, dir_.path());
  EXPECT_EQ(events.exit_code, 0) << events.err;
  // ...but may not drain: the runner checks the caller's uid and refuses.
  Released drain =
      RunAs(kNobody, kNogroup, {api_gid}, {runnerctl, "--socket", socket(), "drain"}, dir_.path());
  EXPECT_EQ(drain.exit_code, 4) << drain.out << drain.err;
  EXPECT_THAT(drain.err, HasSubstr("access denied"));
  EXPECT_THAT(drain.err, HasSubstr("uid 65534 may not control"));
  EXPECT_EQ(std::count(drain.err.begin(), drain.err.end(), '\n'), 1);
  // ...nor attach a worker: the worker channel takes the same check as drain, before anything
  // else (this runner starts its own worker, so the attach would be refused anyway).
  Released attach =
      RunAs(kNobody, kNogroup, {api_gid},
            {kBin + "/worker-bridge", "--socket", socket(), "--", "/bin/true"}, dir_.path());
  EXPECT_EQ(attach.exit_code, 121) << attach.out << attach.err;
  EXPECT_THAT(attach.err, HasSubstr("access denied by the runner"));
  EXPECT_THAT(attach.err, HasSubstr("uid 65534 may not control"));

  // Outside the group nothing is allowed: the socket's directory is closed to it.
  Released outsider =
      RunAs(kNobody, kNogroup, {}, {runnerctl, "--socket", socket(), "status"}, dir_.path());
  EXPECT_EQ(outsider.exit_code, 4) << outsider.out << outsider.err;
  EXPECT_THAT(outsider.err, HasSubstr("access denied"));
  EXPECT_EQ(std::count(outsider.err.begin(), outsider.err.end(), '\n'), 1);

  // Nothing was sent to the worker; root may drain.
  EXPECT_THAT(ReadFile(stdin_log()), Not(HasSubstr(R"("type":"graceful-termination")")));
  auto root_drain = Runnerctl({"drain"});
  EXPECT_EQ(root_drain.exit_code, 0) << root_drain.err;
  EXPECT_THAT(root_drain.out, HasSubstr("drain: sent"));

  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
}

TEST_F(ApiTest, IndependentNodeClientReadsStatusEventsHealthAndReflection) {
  const std::string client_dir = kSource + "/tests/grpc_client";
  ASSERT_EQ(access((client_dir + "/node_modules/@grpc/grpc-js/package.json").c_str(), R_OK), 0)
      << "tests/grpc_client/node_modules is missing: run scripts/install-node-deps.sh";
  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  pid_t runner =
      StartRunner(WriteConfig(), {"wait-for welcome", "hello log", "wait-fifo " + fifo, "exit 0"});

  auto client = test_support::RunCommand({"/usr/bin/env", "node", client_dir + "/client.js",
                                          socket(), kSource + "/proto/runner.proto"},
                                         {}, absl::Seconds(30));
  ASSERT_EQ(client.exit_code, 0) << client.err;
  nlohmann::json seen = nlohmann::json::parse(client.out);
  EXPECT_EQ(seen["health"], "SERVING");
  EXPECT_EQ(seen["status"]["state"], "RUN_STATE_RUNNING");
  EXPECT_EQ(seen["status"]["workerId"], "desk-9");
  EXPECT_GT(seen["status"]["workerPid"].get<int>(), 0);
  ASSERT_FALSE(seen["events"].empty());
  EXPECT_EQ(seen["events"][0]["kind"], "EVENT_KIND_CURRENT_STATE");
  EXPECT_GE(seen["events"].size(), 3u);
  EXPECT_THAT(
      seen["services"].get<std::vector<std::string>>(),
      ::testing::IsSupersetOf({"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                               "workerrunner.v1.Runner"}));
  EXPECT_GE(seen["runnerDescriptors"].get<int>(), 1);

  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
}

TEST_F(ApiTest, CraftedWorkerIdCannotDriveTheTerminal) {
  std::string config_path = WriteConfig();
  std::string config = ReadFile(config_path);
  // A worker ID with an escape sequence (clear screen) and a newline, as YAML escapes.
  config.replace(config.find("workerID: desk-9"), strlen("workerID: desk-9"),
                 "workerID: \"desk\\e[2J\\nfake: line\"");
  test_support::WriteFile(config_path, config, 0600);
  std::string fifo = dir_.File("release");
  MakeFifo(fifo);
  pid_t runner =
      StartRunner(config_path, {"wait-for welcome", "hello", "wait-fifo " + fifo, "exit 0"});
  for (const char* command : {"status", "events"}) {
    SCOPED_TRACE(command);
    auto result = Runnerctl({command});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_THAT(result.out, Not(HasSubstr("\x1b")));
    EXPECT_THAT(result.out, HasSubstr("desk\\x1b[2J\\x0afake: line"));
  }
  ReleaseFifo(fifo);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
}

}  // namespace
}  // namespace runner
