// Time from a cloud announcing an interruption to the worker receiving graceful-termination,
// through the real start-worker: the fake cloud metadata service flips its notice, the fake
// worker's stdin log shows the message (watched with inotify). One benchmark per cloud; each
// iteration boots a fresh runner against a fresh fake cloud and the shared fake Taskcluster.
//
//   build/bin/interruption_latency_bench --benchmark_counters_tabular=true
//
// Only the flip-to-delivery interval is timed (manual time); start-up is not.
#include <signal.h>

#include <memory>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/aws/fake_aws_metadata.h"
#include "tests/fakes/google/fake_google_metadata.h"
#include "tests/fakes/process_util.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner {
namespace {

const std::string kBin = RUNNER_BIN_DIR;
constexpr char kTerminationType[] = R"("type":"graceful-termination")";

// One cloud's fake metadata service, as the benchmark drives it.
class FakeCloud {
 public:
  virtual ~FakeCloud() = default;
  virtual std::string provider_type() const = 0;
  virtual absl::Status Start(const std::string& root_url) = 0;
  virtual std::string url() const = 0;
  // Waits until the runner's watcher is asking; false on timeout.
  virtual bool WaitUntilWatched(absl::Duration timeout) = 0;
  // How long after the watcher started the flip may come, drawn uniformly, so the flip lands
  // at a random phase of a polling watcher.
  virtual absl::Duration phase_range() const = 0;
  // Announces the interruption now.
  virtual void Flip() = 0;
};

class AwsCloud : public FakeCloud {
 public:
  std::string provider_type() const override { return "aws"; }
  absl::Status Start(const std::string& root_url) override {
    fake_ = std::make_unique<fakes::FakeAwsMetadata>(fakes::FakeAwsInstance::Typical(root_url));
    return fake_->Start();
  }
  std::string url() const override { return fake_->url(); }
  bool WaitUntilWatched(absl::Duration timeout) override {
    return fake_->WaitForCount("GET", "/latest/meta-data/spot/instance-action", 1, timeout);
  }
  absl::Duration phase_range() const override { return absl::Seconds(1); }
  void Flip() override { fake_->SetSpotInstanceAction("terminate", "2030-01-01T00:02:00Z"); }

 private:
  std::unique_ptr<fakes::FakeAwsMetadata> fake_;
};

class GoogleCloud : public FakeCloud {
 public:
  std::string provider_type() const override { return "google"; }
  absl::Status Start(const std::string& root_url) override {
    fake_ = std::make_unique<fakes::FakeGoogleMetadata>(root_url);
    return fake_->Start();
  }
  std::string url() const override { return fake_->url(); }
  bool WaitUntilWatched(absl::Duration timeout) override {
    return fake_->WaitForHanging(1, timeout);
  }
  absl::Duration phase_range() const override { return absl::ZeroDuration(); }
  void Flip() override { fake_->Preempt(); }

 private:
  std::unique_ptr<fakes::FakeGoogleMetadata> fake_;
};

fakes::FakeTaskclusterProcess* SharedTaskcluster() {
  static fakes::FakeTaskclusterProcess* fake = [] {
    auto started = fakes::FakeTaskclusterProcess::Start(nlohmann::json::object());
    return started.ok() ? started->release() : nullptr;
  }();
  return fake;
}

// Boots start-worker against `cloud`; returns the flip-to-delivery time, or an error.
absl::StatusOr<absl::Duration> MeasureOnce(FakeCloud* cloud, std::mt19937* random) {
  fakes::FakeTaskclusterProcess* taskcluster = SharedTaskcluster();
  if (taskcluster == nullptr) return absl::UnavailableError("fake Taskcluster did not start");
  absl::Status started = cloud->Start(taskcluster->root_url());
  if (!started.ok()) return started;

  test_support::TempDir dir;
  test_support::WriteFile(dir.File("script"),
                          "wait-for welcome\nhello graceful-termination\n"
                          "wait-for graceful-termination 60000\nexit 0\n");
  test_support::WriteFile(
      dir.File("runner.yaml"),
      absl::StrCat("provider: {providerType: ", cloud->provider_type(),
                   "}\nworker:\n  implementation: generic-worker\n  path: ", kBin,
                   "/fake-worker\n  configPath: ", dir.File("gw.json"),
                   "\ngetSecrets: false\napi:\n  socket: ", dir.File("api.sock"), "\n"),
      0600);
  std::string stdin_log = dir.File("stdin.log");
  pid_t runner = test_support::StartProcess(
      {kBin + "/start-worker", dir.File("runner.yaml")},
      {"WORKER_RUNNER_METADATA_URL=" + cloud->url(), "FAKE_WORKER_SCRIPT=" + dir.File("script"),
       "FAKE_WORKER_STDIN_LOG=" + stdin_log},
      "", dir.File("runner.log"));

  absl::StatusOr<absl::Duration> result = absl::DeadlineExceededError("runner never watched");
  if (cloud->WaitUntilWatched(absl::Seconds(30))) {
    std::uniform_int_distribution<int64_t> phase(0,
                                                 absl::ToInt64Microseconds(cloud->phase_range()));
    absl::SleepFor(absl::Microseconds(phase(*random)));
    absl::Time flipped = absl::Now();
    cloud->Flip();
    if (test_support::WaitForFileToContain(stdin_log, kTerminationType, absl::Seconds(30))) {
      result = absl::Now() - flipped;
    } else {
      result = absl::DeadlineExceededError("graceful-termination never arrived");
    }
  }
  if (!test_support::WaitProcess(runner, absl::Seconds(30)).has_value()) {
    test_support::KillProcess(runner);
  }
  return result;
}

template <class Cloud>
void BM_InterruptionLatency(benchmark::State& state) {
  std::mt19937 random(42);
  absl::Duration worst = absl::ZeroDuration();
  for (auto _ : state) {
    Cloud cloud;
    absl::StatusOr<absl::Duration> latency = MeasureOnce(&cloud, &random);
    if (!latency.ok()) {
      state.SkipWithError(std::string(latency.status().message()).c_str());
      return;
    }
    worst = std::max(worst, *latency);
    state.SetIterationTime(absl::ToDoubleSeconds(*latency));
  }
  state.counters["worst_ms"] = absl::ToDoubleMilliseconds(worst);
}

BENCHMARK_TEMPLATE(BM_InterruptionLatency, AwsCloud)
    ->Name("InterruptionLatency/aws")
    ->UseManualTime()
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_InterruptionLatency, GoogleCloud)
    ->Name("InterruptionLatency/google")
    ->UseManualTime()
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace runner

BENCHMARK_MAIN();
