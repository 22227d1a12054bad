// start-worker: boots a Taskcluster worker and supervises it.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "server/common/logger.h"
#include "server/common/version.h"
#include "server/config/runner_config.h"
#include "server/lifecycle/attached_worker.h"
#include "server/lifecycle/exit_codes.h"
#include "server/lifecycle/run_status.h"
#include "server/lifecycle/runner.h"
#include "server/service/api_server.h"

namespace runner {
namespace {

constexpr char kUsage[] =
    "usage: start-worker <runner-config.yaml>\n"
    "       start-worker --version | --short-version | --help\n"
    "\n"
    "Reads the runner config, identifies the worker through its provider, starts the worker\n"
    "and supervises it until it exits. The local API is served on api.socket\n"
    "(default /run/worker-runner/api.sock); see `runnerctl --help`.\n"
    "\n"
    "Exit codes: 0 clean run, 1 worker failed, 2 usage, 3 config error, 4 start-up failure,\n"
    "5 worker could not be started, 6 stopped by SIGTERM, SIGINT or SIGHUP.\n";

// The signals the signal thread takes: the three stop requests, and SIGUSR1 to end it.
sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, signal);
  return set;
}

// Waits for SIGTERM/SIGINT/SIGHUP (blocked in every thread) and turns them into stop requests.
// SIGUSR1 from main ends it.
class SignalThread {
 public:
  explicit SignalThread(lifecycle::Runner* runner) : runner_(runner) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~SignalThread() {
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }

 private:
  void Loop() {
    sigset_t set = HandledSignals();
    while (true) {
      int signal = 0;
      if (sigwait(&set, &signal) != 0) continue;
      if (signal == SIGUSR1) {
        if (done_) return;
        continue;
      }
      runner_->RequestStop(signal == SIGTERM ? "sigterm" : signal == SIGINT ? "sigint" : "sighup");
    }
  }

  lifecycle::Runner* runner_;  // not owned
  std::atomic<bool> done_{false};
  std::thread thread_;
};

void BlockStopSignals() {
  // Blocked before any thread starts, so every thread inherits the mask and only the signal
  // thread receives them.
  sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Writes to a worker that has gone must fail, not kill the runner.
  signal(SIGPIPE, SIG_IGN);
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    printf("start-worker %s\n", common::kVersion);
    return lifecycle::kExitOk;
  }
  if (args.size() == 1 && args[0] == "--short-version") {
    printf("%s\n", common::kVersion);
    return lifecycle::kExitOk;
  }
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    fputs(kUsage, stdout);
    return lifecycle::kExitOk;
  }
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    fputs(kUsage, stderr);
    return lifecycle::kExitUsage;
  }

  BlockStopSignals();
  const absl::Time started_at = absl::Now();
  absl::Status oom = lifecycle::SetOomScoreAdj(getpid(), -1000);
  if (!oom.ok()) {
    common::LogInfo("runner", "could not protect runner from the OOM killer",
                    {{"error", std::string(oom.message())}});
  }

  common::LogInfo("runner", "loading config", {{"file", args[0]}, {"version", common::kVersion}});
  absl::StatusOr<config::RunnerConfig> loaded = config::LoadRunnerConfig(args[0]);
  if (!loaded.ok()) {
    common::LogError("runner", "config error", {{"error", std::string(loaded.status().message())}});
    return lifecycle::kExitConfig;
  }
  config::RunnerConfig config = std::move(loaded).value();
  const std::string socket_path = config.api.socket;

  lifecycle::RunStatus status(common::kVersion, started_at);
  lifecycle::AttachedWorkerSlot attach_slot(config.worker);
  service::ApiServer api(&status, &attach_slot);
  absl::Status serving = api.Start(socket_path);
  if (serving.code() == absl::StatusCode::kAlreadyExists) {
    common::LogError("runner", "refusing to start", {{"error", std::string(serving.message())}});
    return lifecycle::kExitStartup;
  }
  if (!serving.ok()) {
    // The worker matters more than the local API: carry on without it.
    common::LogWarning("api", "local API disabled", {{"error", std::string(serving.message())}});
    attach_slot.Close(absl::StrCat("local API disabled: ", serving.message()));
  }

  lifecycle::RunnerOptions options;
  options.attach_slot = &attach_slot;
  lifecycle::Runner runner(std::move(config), &status, options);
  int exit_code;
  {
    SignalThread signals(&runner);
    exit_code = runner.Run();
  }
  // Releases an attach still waiting for a run that ended before taking a worker.
  attach_slot.Close("the runner is exiting");
  api.Stop();
  common::LogInfo("runner", "exiting", {{"code", exit_code}});
  return exit_code;
}

}  // namespace
}  // namespace runner

int main(int argc, char** argv) { return runner::Main(argc, argv); }
