// Local API figures (docs/performance.md):
//   - GetStatus latency over the socket, against a trivial gRPC server in the same run;
//   - `runnerctl status` as a whole process;
//   - time from an interruption being recorded to the last of N followers receiving it;
//   - the real start-worker's RSS with 1000 followers attached.
// p50/p99 are reported as counters (microseconds). Run: build/tests/bench/api_bench
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

#include "proto/runner.grpc.pb.h"
#include "server/service/api_server.h"
#include "tests/fakes/process_util.h"

extern char** environ;

namespace runner {
namespace {

namespace v1 = workerrunner::v1;
using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(p * (values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

void ReportLatencies(benchmark::State& state, const std::vector<double>& micros) {
  state.counters["p50_us"] = Percentile(micros, 0.50);
  state.counters["p99_us"] = Percentile(micros, 0.99);
}

// GetStatus answered with an empty message: what gRPC itself costs on a Unix socket.
class TrivialService final : public v1::Runner::CallbackService {
  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const v1::GetStatusRequest*, v1::RunnerStatus*) override {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// One in-process API server with a filled-in status, and a trivial server beside it.
struct Servers {
  Servers() : status("bench", absl::Now()) {
    providers::RunState state;
    state.provider_id = "standalone";
    state.root_url = "https://tc.example.invalid";
    state.worker_pool_id = "proj/bench";
    state.worker_group = "g";
    state.worker_id = "w";
    state.worker_location = {{"cloud", "standalone"}};
    status.SetIdentity(state);
    status.SetPhase(lifecycle::RunPhase::kRunning);
    status.SetWorkerStarted(1234);
    status.SetNegotiated({"graceful-termination", "log"});
    api = std::make_unique<service::ApiServer>(&status);
    if (!api->Start(dir.File("api.sock")).ok()) abort();

    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + dir.File("trivial.sock"), grpc::InsecureServerCredentials());
    builder.RegisterService(&trivial_service);
    trivial = builder.BuildAndStart();
  }
  ~Servers() {
    api->Stop();
    trivial->Shutdown();
  }
  static Servers& Get() {
    static Servers* servers = new Servers();
    return *servers;
  }

  test_support::TempDir dir;
  lifecycle::RunStatus status;
  std::unique_ptr<service::ApiServer> api;
  TrivialService trivial_service;
  std::unique_ptr<grpc::Server> trivial;
};

void GetStatusLatency(benchmark::State& state, const std::string& socket) {
  auto stub = v1::Runner::NewStub(
      grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials()));
  std::vector<double> micros;
  for (auto _ : state) {
    grpc::ClientContext context;
    v1::RunnerStatus response;
    auto start = Clock::now();
    grpc::Status result = stub->GetStatus(&context, {}, &response);
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!result.ok()) state.SkipWithError(result.error_message().c_str());
  }
  ReportLatencies(state, micros);
}

void BM_GetStatus_Runner(benchmark::State& state) {
  GetStatusLatency(state, Servers::Get().dir.File("api.sock"));
}
BENCHMARK(BM_GetStatus_Runner)->Iterations(3000)->UseRealTime();

void BM_GetStatus_TrivialServer(benchmark::State& state) {
  GetStatusLatency(state, Servers::Get().dir.File("trivial.sock"));
}
BENCHMARK(BM_GetStatus_TrivialServer)->Iterations(3000)->UseRealTime();

int RunProcess(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int spawned = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void BM_RunnerctlStatusProcess(benchmark::State& state) {
  const std::string socket = Servers::Get().dir.File("api.sock");
  std::vector<double> micros;
  for (auto _ : state) {
    auto start = Clock::now();
    int code =
        RunProcess({std::string(RUNNER_BIN_DIR) + "/runnerctl", "--socket", socket, "status"});
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (code != 0) state.SkipWithError("runnerctl status failed");
  }
  ReportLatencies(state, micros);
}
BENCHMARK(BM_RunnerctlStatusProcess)->Iterations(200)->UseRealTime();

// Follows the feed and counts interruption events; the last arrival of each round is timed.
class Follower : public grpc::ClientReadReactor<v1::Event> {
 public:
  Follower(v1::Runner::Stub* stub, std::atomic<int>* waiting, absl::Mutex* mu,
           Clock::time_point* last)
      : waiting_(waiting), mu_(mu), last_(last) {
    request_.set_follow(true);
    request_.add_kinds(v1::EVENT_KIND_INTERRUPTION);
    stub->async()->WatchEvents(&context_, &request_, this);
    StartRead(&event_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (event_.kind() == v1::EVENT_KIND_CURRENT_STATE) {
      ready_ = true;
    } else if (event_.kind() == v1::EVENT_KIND_INTERRUPTION) {
      if (waiting_->fetch_sub(1) == 1) {
        absl::MutexLock lock(mu_);
        *last_ = Clock::now();
      }
    }
    StartRead(&event_);
  }
  void OnDone(const grpc::Status&) override {
    absl::MutexLock lock(&done_mu_);
    done_ = true;
  }
  void Cancel() { context_.TryCancel(); }
  void AwaitDone() {
    absl::MutexLock lock(&done_mu_);
    done_mu_.Await(absl::Condition(&done_));
  }
  std::atomic<bool> ready_{false};

 private:
  grpc::ClientContext context_;
  v1::WatchEventsRequest request_;
  v1::Event event_;
  std::atomic<int>* waiting_;
  absl::Mutex* mu_;
  Clock::time_point* last_;
  absl::Mutex done_mu_;
  bool done_ = false;
};

// `count` followers over channels of at most 100 streams each.
struct FollowerSet {
  FollowerSet(const std::string& socket, int count, std::atomic<int>* waiting, absl::Mutex* mu,
              Clock::time_point* last) {
    for (int i = 0; i < count; ++i) {
      if (i % 100 == 0) {
        grpc::ChannelArguments args;
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        stubs.push_back(v1::Runner::NewStub(
            grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args)));
      }
      followers.push_back(std::make_unique<Follower>(stubs.back().get(), waiting, mu, last));
    }
    for (auto& follower : followers) {
      while (!follower->ready_) std::this_thread::yield();
    }
  }
  ~FollowerSet() {
    for (auto& follower : followers) follower->Cancel();
    for (auto& follower : followers) follower->AwaitDone();
  }
  std::vector<std::unique_ptr<v1::Runner::Stub>> stubs;
  std::vector<std::unique_ptr<Follower>> followers;
};

void BM_InterruptionToLastFollower(benchmark::State& state) {
  Servers& servers = Servers::Get();
  const int count = static_cast<int>(state.range(0));
  std::atomic<int> waiting{0};
  absl::Mutex mu;
  Clock::time_point last;
  FollowerSet set(servers.dir.File("api.sock"), count, &waiting, &mu, &last);

  std::vector<double> micros;
  providers::Interruption notice{"bench", "spot-termination", std::nullopt, true};
  for (auto _ : state) {
    waiting = count;
    auto start = Clock::now();
    servers.status.RecordInterruption(notice, absl::Now());
    while (waiting.load() > 0) std::this_thread::yield();
    absl::MutexLock lock(&mu);
    micros.push_back(std::chrono::duration<double, std::micro>(last - start).count());
  }
  ReportLatencies(state, micros);
}
BENCHMARK(BM_InterruptionToLastFollower)
    ->Arg(1)
    ->Arg(100)
    ->Arg(1000)
    ->Iterations(100)
    ->UseRealTime();

long RssKiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// The real start-worker (standalone, fake worker waiting on a FIFO) with 1000 followers.
void BM_RunnerRssWith1000Followers(benchmark::State& state) {
  test_support::TempDir dir;
  const std::string bin = RUNNER_BIN_DIR;
  const std::string socket = dir.File("api.sock");
  const std::string fifo = dir.File("release");
  mkfifo(fifo.c_str(), 0600);
  test_support::WriteFile(dir.File("script"),
                          "wait-for welcome\nhello log\nwait-fifo " + fifo + "\nexit 0\n");
  test_support::WriteFile(
      dir.File("runner.yaml"),
      absl::StrCat("provider:\n  providerType: standalone\n  rootURL: https://tc.example.invalid\n"
                   "  clientID: c\n  accessToken: TESTONLY-bench-token\n"
                   "  workerPoolID: p/w\n  workerGroup: g\n  workerID: w\n"
                   "worker:\n  implementation: generic-worker\n  path: ",
                   bin, "/fake-worker\n  configPath: ", dir.File("gw.json"),
                   "\ngetSecrets: false\napi:\n  socket: ", socket, "\n"));
  pid_t runner = test_support::StartProcess({bin + "/start-worker", dir.File("runner.yaml")},
                                            {"FAKE_WORKER_SCRIPT=" + dir.File("script")}, "",
                                            dir.File("runner.log"));
  if (!test_support::WaitForFileToContain(dir.File("runner.log"), "protocol negotiated",
                                          absl::Seconds(20))) {
    state.SkipWithError("runner did not start");
    test_support::KillProcess(runner);
    return;
  }
  for (auto _ : state) {
    long before = RssKiB(runner);
    std::atomic<int> waiting{0};
    absl::Mutex mu;
    Clock::time_point last;
    auto set = std::make_unique<FollowerSet>(socket, 1000, &waiting, &mu, &last);
    long after = RssKiB(runner);
    state.counters["rss_before_kib"] = before;
    state.counters["rss_1000_followers_kib"] = after;
    state.counters["per_follower_kib"] = (after - before) / 1000.0;
    set.reset();
  }
  int fd = open(fifo.c_str(), O_WRONLY);
  if (fd >= 0) {
    if (write(fd, "go\n", 3) != 3) state.SkipWithError("could not release the worker");
    close(fd);
  }
  test_support::WaitProcess(runner, absl::Seconds(20));
  test_support::KillProcess(runner);
}
BENCHMARK(BM_RunnerRssWith1000Followers)->Iterations(1)->UseRealTime();

}  // namespace
}  // namespace runner

BENCHMARK_MAIN();
