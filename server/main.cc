// start-worker: boots a Taskcluster worker and supervises it.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "server/common/logger.h"
#include "server/common/stop_signals.h"
#include "server/common/version.h"
#include "server/config/runner_config.h"
#include "server/lifecycle/attached_worker.h"
#include "server/lifecycle/exit_codes.h"
#include "server/lifecycle/run_status.h"
#include "server/lifecycle/runner.h"
#include "server/service/api_server.h"
#include "server/service/worker_channel_service.h"

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
    "Exit codes:\n"
    "  0  the worker exited 0 and the exit steps (removeWorker on cloud providers) succeeded\n"
    "  1  the worker exited non-zero or was killed by a signal\n"
    "  2  wrong command line\n"
    "  3  the runner config could not be read or is invalid\n"
    "  4  start-up failed (provider, registration, secrets, cache, files, local API)\n"
    "  5  the worker could not be configured or started\n"
    "  6  stopped by SIGTERM, SIGINT or SIGHUP (the worker got graceful-termination, then\n"
    "     shutdown.gracePeriod, then SIGTERM; a second signal skips the rest of the wait)\n"
    "  7  the worker exited 67 to reboot the host: it stays registered, the cache is kept\n"
    "  8  the worker exited 0 but removeWorker failed; shutdown.command was run\n";

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

  common::BlockStopSignals();
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
  service::ApiServerOptions api_options;
  api_options.group = config.api.group;

  lifecycle::RunStatus status(common::kVersion, started_at);
  lifecycle::AttachedWorkerSlot attach_slot(config.worker);
  lifecycle::RunnerOptions runner_options;
  runner_options.attach_slot = &attach_slot;
  lifecycle::Runner runner(std::move(config), &status, runner_options);
  api_options.drain = [&runner](bool finish_tasks, uint32_t uid) {
    return runner.Drain(finish_tasks, uid);
  };
  service::ApiServer api(&status, std::move(api_options));
  service::WorkerChannelService worker_channel(&attach_slot, &api);
  api.RegisterService(&worker_channel);
  absl::Status serving = api.Start(socket_path);
  if (serving.code() == absl::StatusCode::kAlreadyExists) {
    common::LogError("runner", "refusing to start", {{"error", std::string(serving.message())}});
    return lifecycle::kExitStartup;
  }
  if (serving.code() == absl::StatusCode::kInvalidArgument) {
    // A mistake in the api section (no such api.group, an unusable path) is the operator's to
    // fix, like any other config error; only the host's trouble is carried on past.
    common::LogError("runner", "config error", {{"error", std::string(serving.message())}});
    return lifecycle::kExitConfig;
  }
  if (!serving.ok()) {
    // The worker matters more than the local API: carry on without it.
    common::LogWarning("api", "local API disabled", {{"error", std::string(serving.message())}});
    attach_slot.Close(absl::StrCat("local API disabled: ", serving.message()));
  }

  int exit_code;
  {
    // SIGTERM/SIGINT/SIGHUP become stop requests for as long as the run lasts.
    common::StopSignalThread signals([&runner](int signal) {
      runner.RequestStop(signal == SIGTERM ? "sigterm" : signal == SIGINT ? "sigint" : "sighup");
    });
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
