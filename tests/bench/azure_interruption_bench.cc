// How long an Azure preemption takes to reach the worker: from the fake metadata service
// publishing a Preempt event for this VM to the fake worker having read graceful-termination on
// its stdin. Each iteration boots the real start-worker (provider azure) against the fake Azure
// metadata service and the fake Taskcluster, waits until the watcher runs and the worker said
// hello, then times only the notice. Everything stays on 127.0.0.1.
#include <sys/types.h>

#include <memory>
#include <optional>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/azure/fake_azure_metadata.h"
#include "tests/fakes/process_util.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner {
namespace {

const std::string kBin = RUNNER_BIN_DIR;

void BM_AzurePreemptToGracefulTermination(benchmark::State& state) {
  fakes::FakeAzureMetadata azure;
  if (!azure.Start().ok()) {
    state.SkipWithError("fake azure metadata did not start");
    return;
  }
  auto tc = fakes::FakeTaskclusterProcess::Start(nlohmann::json::object());
  if (!tc.ok()) {
    state.SkipWithError(std::string(tc.status().message()).c_str());
    return;
  }
  azure.SetTags(fakes::FakeAzureMetadata::DefaultTags((*tc)->root_url()));

  int iteration = 0;
  std::mt19937 random(42);
  for (auto _ : state) {
    test_support::TempDir dir;
    std::string config_path = dir.File("runner.yaml");
    test_support::WriteFile(
        config_path,
        absl::StrCat("provider:\n  providerType: azure\nworker:\n  implementation: "
                     "generic-worker\n  path: ",
                     kBin, "/fake-worker\n  configPath: ", dir.File("gw.json"),
                     "\napi:\n  socket: ", dir.File("api.sock"), "\ngetSecrets: false\n"),
        0600);
    test_support::WriteFile(dir.File("script"),
                            "wait-for welcome\nhello graceful-termination\n"
                            "wait-for graceful-termination 30000\nexit 0\n");
    pid_t runner = test_support::StartProcess(
        {kBin + "/start-worker", config_path},
        {"WORKER_RUNNER_METADATA_URL=" + azure.url(), "FAKE_WORKER_SCRIPT=" + dir.File("script"),
         "FAKE_WORKER_STDIN_LOG=" + dir.File("stdin.log")},
        "", dir.File("runner.log"));
    bool ready = test_support::WaitForFileToContain(dir.File("runner.log"), "protocol negotiated",
                                                    absl::Seconds(30)) &&
                 test_support::WaitForFileToContain(dir.File("runner.log"),
                                                    "watching scheduled events", absl::Seconds(30));
    if (!ready) {
      test_support::KillProcess(runner);
      state.SkipWithError("start-worker did not start the worker");
      break;
    }

    // Arg 1 publishes at a random point of the poll cycle (the typical case); arg 0 right after
    // the watcher's first request (the worst case: a whole interval to wait).
    if (state.range(0) == 1) {
      absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(0, 999)(random)));
    }
    fakes::FakeAzureEvent event;
    event.event_id = absl::StrCat("bench-", ++iteration);
    event.event_type = "Preempt";
    event.resources = {fakes::FakeAzureMetadata::kVmName};
    absl::Time published = azure.PublishEvent(event);
    // The welcome line names the capability too; wait for the message itself.
    bool received = test_support::WaitForFileToContain(
        dir.File("stdin.log"), R"("type":"graceful-termination")", absl::Seconds(30));
    absl::Time seen = absl::Now();
    azure.WithdrawEvent(event.event_id);
    std::optional<int> code = test_support::WaitProcess(runner, absl::Seconds(30));
    if (!code.has_value()) test_support::KillProcess(runner);
    if (!received) {
      state.SkipWithError("the worker never received graceful-termination");
      break;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(seen - published));
  }
}

BENCHMARK(BM_AzurePreemptToGracefulTermination)
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(15);

}  // namespace
}  // namespace runner

BENCHMARK_MAIN();
