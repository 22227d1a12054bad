// The whole run in-process: Runner with an injected dynamic (cloud-like) provider, the fake
// worker (tests/fakes/fake_worker.cc) and the fake Taskcluster (which verifies every Hawk
// signature). Covers credential renewal, removeWorker and shutdown.command, exit code 67 and
// cacheOverRestarts. Everything binds 127.0.0.1 and lives in a temporary directory.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "server/lifecycle/exit_codes.h"
#include "server/lifecycle/run_status.h"
#include "server/lifecycle/runner.h"
#include "server/lifecycle/state_cache.h"
#include "tests/fakes/log_capture.h"
#include "tests/fakes/process_util.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner::lifecycle {
namespace {

using nlohmann::json;
using test_support::ReadFile;
using ::testing::HasSubstr;

const std::string kBin = RUNNER_BIN_DIR;
constexpr char kPool[] = "proj-cloud/linux";
constexpr char kGroup[] = "region-1";
constexpr char kWorkerId[] = "i-0abc";
const std::string kWorkerPath =
    absl::StrCat("/api/worker-manager/v1/workers/proj-cloud%2Flinux/region-1/", kWorkerId);

// A cloud provider stand-in: dynamically provisioned, identity from the test, a registration
// proof the fake Taskcluster accepts.
class FakeDynamicProvider : public providers::Provider {
 public:
  struct Calls {
    std::atomic<int> configure{0};
    std::atomic<int> use_cached{0};
  };
  FakeDynamicProvider(std::string root_url, Calls* calls, bool fail)
      : root_url_(std::move(root_url)), calls_(calls), fail_(fail) {}

  std::string type() const override { return "aws"; }
  bool dynamically_provisioned() const override { return true; }

  absl::StatusOr<std::optional<json>> ConfigureRun(providers::RunState* state) override {
    ++calls_->configure;
    if (fail_) return absl::UnavailableError("instance metadata unreachable");
    state->root_url = root_url_;
    state->provider_id = "fake-cloud";
    state->worker_pool_id = kPool;
    state->worker_group = kGroup;
    state->worker_id = kWorkerId;
    state->worker_location = {{"cloud", "aws"}, {"region", kGroup}};
    state->provider_metadata = {{"instance-id", kWorkerId}};
    return std::optional<json>(json{{"document", "signed-instance-identity"}});
  }
  absl::Status UseCachedRun(providers::RunState* state) override {
    ++calls_->use_cached;
    if (state->worker_location["cloud"] != "aws") return absl::FailedPreconditionError("not ours");
    return absl::OkStatus();
  }
  absl::Status StartWatching(providers::InterruptionSink*) override { return absl::OkStatus(); }
  void StopWatching() override {}

 private:
  std::string root_url_;
  Calls* calls_;
  bool fail_;
};

class SupervisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // As in start-worker's main: a write to a worker that has gone must fail, not kill us.
    signal(SIGPIPE, SIG_IGN);
    setenv("FAKE_WORKER_SCRIPT", dir_.File("script").c_str(), 1);
    setenv("FAKE_WORKER_STDIN_LOG", stdin_log().c_str(), 1);
  }

  void StartFake(json scenario) {
    auto fake = fakes::FakeTaskclusterProcess::Start(scenario);
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = std::move(fake).value();
  }

  std::string stdin_log() const { return dir_.File("worker-stdin.log"); }
  std::string gw_config() const { return dir_.File("gw-config.json"); }
  std::string cache() const { return dir_.File("state.json"); }
  std::string marker() const { return dir_.File("powered-off"); }

  config::RunnerConfig Config(bool with_cache = false) const {
    config::RunnerConfig config;
    config.file = dir_.File("runner.yaml");
    config.provider.provider_type = "aws";
    config.worker.implementation = "generic-worker";
    config.worker.path = kBin + "/fake-worker";
    config.worker.config_path = gw_config();
    config.worker_config = {{"fromRunnerFile", true}};
    config.get_secrets = false;
    if (with_cache) config.cache_over_restarts = cache();
    // Records that it ran instead of powering anything off.
    config.shutdown.command = {"/bin/sh", "-c", "echo ran >> \"$0\"", marker()};
    return config;
  }

  RunnerOptions Options(bool fail_provider = false) {
    RunnerOptions options;
    std::string root = fake_ ? fake_->root_url() : "http://127.0.0.1:9";
    options.provider_factory =
        [this, root, fail_provider](
            const config::ProviderConfig&) -> absl::StatusOr<std::unique_ptr<providers::Provider>> {
      return std::make_unique<FakeDynamicProvider>(root, &provider_calls_, fail_provider);
    };
    options.renewal.retry_initial = absl::Milliseconds(500);
    options.stop_grace_period = absl::Seconds(2);
    return options;
  }

  void WriteScript(const std::vector<std::string>& lines) {
    test_support::WriteFile(dir_.File("script"), absl::StrJoin(lines, "\n") + "\n", 0600);
  }

  int RunOnce(config::RunnerConfig config, RunnerOptions options) {
    RunStatus status("test", absl::Now());
    Runner runner(std::move(config), &status, std::move(options));
    int code = runner.Run();
    last_status_ = status.Snapshot();
    return code;
  }

  std::vector<json> RequestsTo(const std::string& method, const std::string& path) const {
    std::vector<json> matching;
    for (const json& request : fake_->Requests()) {
      if (request["method"] == method && request["path"] == path) matching.push_back(request);
    }
    return matching;
  }
  std::vector<json> Registers() const {
    return RequestsTo("POST", "/api/worker-manager/v1/worker/register");
  }
  std::vector<json> Reregisters() const {
    return RequestsTo("POST", "/api/worker-manager/v1/worker/reregister");
  }
  std::vector<json> Removes() const { return RequestsTo("DELETE", kWorkerPath); }

  // Messages the worker received, in order.
  std::vector<json> WorkerMessages(const std::string& type) const {
    std::vector<json> messages;
    for (absl::string_view line : absl::StrSplit(ReadFile(stdin_log()), '\n', absl::SkipEmpty())) {
      if (line.size() < 2 || line[0] != '~') continue;
      json message = json::parse(line.substr(1), nullptr, false);
      if (message.is_object() && message.value("type", "") == type) messages.push_back(message);
    }
    return messages;
  }

  test_support::TempDir dir_;
  std::unique_ptr<fakes::FakeTaskclusterProcess> fake_;
  FakeDynamicProvider::Calls provider_calls_;
  StatusSnapshot last_status_;
};

TEST_F(SupervisionTest, RenewsCredentialsAndPutsThemEverywhere) {
  // 32 s credentials: renewal is due 30 s before expiry, i.e. about 2 s after registration.
  StartFake({{"credentialLifetimeSeconds", 32}});
  WriteScript({"hello new-credentials,graceful-termination,shutdown",
               "wait-for new-credentials 30000", "exit 0"});
  test_support::LogCapture logs;
  ASSERT_EQ(RunOnce(Config(/*with_cache=*/true), Options()), kExitOk) << fake_->Stderr();

  ASSERT_EQ(Registers().size(), 1u);
  const std::string client_id =
      absl::StrCat("worker/fake-cloud/", kPool, "/", kGroup, "/", kWorkerId);
  std::vector<json> renewals = Reregisters();
  ASSERT_GE(renewals.size(), 1u);
  // Signed with the registered credentials (the fake checks the Hawk MAC and the certificate),
  // with the one-time secret of the registration (the fake refuses any other).
  EXPECT_EQ(renewals[0]["hawkVerified"], true) << renewals[0].dump();
  EXPECT_EQ(renewals[0]["hawkClientId"], client_id);
  EXPECT_EQ(renewals[0]["certificateInExt"], true);
  EXPECT_EQ(renewals[0]["body"]["workerPoolId"], kPool);
  EXPECT_EQ(renewals[0]["body"]["workerGroup"], kGroup);
  EXPECT_EQ(renewals[0]["body"]["workerId"], kWorkerId);
  EXPECT_TRUE(renewals[0]["body"]["secret"].is_string());
  EXPECT_FALSE(logs.LinesContaining("renewed credentials").empty());

  // The worker got the new credentials with a certificate.
  std::vector<json> sent = WorkerMessages("new-credentials");
  ASSERT_GE(sent.size(), 1u);
  const std::string token = sent.back()["access-token"];
  EXPECT_EQ(sent.back()["client-id"], client_id);
  EXPECT_FALSE(sent.back()["certificate"].get<std::string>().empty());

  // The worker config file and the cache hold the newest credentials.
  json gw = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(gw["accessToken"], token);
  EXPECT_EQ(gw["certificate"], sent.back()["certificate"]);
  EXPECT_EQ(gw["fromRunnerFile"], true);
  EXPECT_EQ(test_support::FileMode(cache()), 0600);
  json cached = json::parse(ReadFile(cache()));
  EXPECT_EQ(cached["Credentials"]["accessToken"], token);
  ASSERT_TRUE(last_status_.credentials_expire.has_value());
  EXPECT_EQ(cached["CredentialsExpire"],
            taskcluster::FormatTaskclusterTime(*last_status_.credentials_expire));

  // Removed at the end, once, with the renewed credentials (the old token no longer verifies).
  std::vector<json> removes = Removes();
  ASSERT_EQ(removes.size(), 1u);
  EXPECT_EQ(removes[0]["hawkVerified"], true) << removes[0].dump();
  EXPECT_FALSE(ReadFile(marker()).size() > 0);
}

TEST_F(SupervisionTest, AsksForGracefulTerminationWhenTheWorkerCannotTakeNewCredentials) {
  StartFake({{"credentialLifetimeSeconds", 32}});
  WriteScript({"hello graceful-termination", "wait-for graceful-termination 30000", "exit 0"});
  test_support::LogCapture logs;
  ASSERT_EQ(RunOnce(Config(), Options()), kExitOk);
  EXPECT_TRUE(Reregisters().empty());
  std::vector<json> terminations = WorkerMessages("graceful-termination");
  ASSERT_EQ(terminations.size(), 1u);
  EXPECT_EQ(terminations[0]["finish-tasks"], false);
  EXPECT_FALSE(logs.LinesContaining("cannot take new ones").empty());
}

TEST_F(SupervisionTest, LetsCredentialsLapseWhenTheWorkerTakesNeitherMessage) {
  StartFake({{"credentialLifetimeSeconds", 31}});
  std::string fifo = dir_.File("release");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  WriteScript({"hello log", "wait-fifo " + fifo, "exit 0"});
  test_support::LogCapture logs;
  auto run = std::async(std::launch::async, [&] { return RunOnce(Config(), Options()); });
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (logs.LinesContaining("letting them lapse").empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));  // polling a log line; there is no event to wait on
  }
  EXPECT_EQ(logs.LinesContaining("letting them lapse").size(), 1u);
  int fd = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  close(fd);
  EXPECT_EQ(run.get(), kExitOk);
  EXPECT_TRUE(Reregisters().empty());
  EXPECT_TRUE(WorkerMessages("graceful-termination").empty());
}

TEST_F(SupervisionTest, ShutdownMessageThenCleanExitRemovesTheWorkerOnce) {
  StartFake(json::object());
  WriteScript({"hello shutdown", "send ~{\"type\":\"shutdown\"}", "exit 0"});
  ASSERT_EQ(RunOnce(Config(), Options()), kExitOk);
  std::vector<json> removes = Removes();
  ASSERT_EQ(removes.size(), 1u);
  EXPECT_EQ(removes[0]["hawkVerified"], true);
  EXPECT_EQ(ReadFile(marker()), "");
}

TEST_F(SupervisionTest, ShutdownMessageThenFailureRemovesOnceAndExitsWorkerFailed) {
  StartFake(json::object());
  WriteScript({"hello shutdown", "send ~{\"type\":\"shutdown\"}", "exit 3"});
  ASSERT_EQ(RunOnce(Config(), Options()), kExitWorkerFailed);
  EXPECT_EQ(Removes().size(), 1u);
}

TEST_F(SupervisionTest, NonZeroExitWithoutShutdownDoesNotRemove) {
  StartFake(json::object());
  WriteScript({"hello shutdown", "exit 3"});
  ASSERT_EQ(RunOnce(Config(), Options()), kExitWorkerFailed);
  EXPECT_TRUE(Removes().empty());
  EXPECT_EQ(ReadFile(marker()), "");
}

TEST_F(SupervisionTest, FailedRemoveWorkerRunsTheShutdownCommand) {
  StartFake(json::parse(R"({"responses": {"removeWorker": [
      {"status": 400, "body": {"code": "InputError", "message": "no"}}]}})"));
  WriteScript({"hello shutdown", "exit 0"});
  ASSERT_EQ(RunOnce(Config(), Options()), kExitRemoveFailed);
  EXPECT_EQ(Removes().size(), 1u);
  EXPECT_EQ(ReadFile(marker()), "ran\n");
}

TEST_F(SupervisionTest, FatalStartupErrorOnACloudInstanceRunsTheShutdownCommand) {
  StartFake(json::object());
  ASSERT_EQ(RunOnce(Config(), Options(/*fail_provider=*/true)), kExitStartup);
  EXPECT_EQ(ReadFile(marker()), "ran\n");
  EXPECT_TRUE(fake_->Requests().empty());
}

TEST_F(SupervisionTest, WorkerStartFailureIsReportedThenPowersOff) {
  StartFake(json::object());
  config::RunnerConfig config = Config();
  config.worker.path = dir_.File("no-such-worker");
  ASSERT_EQ(RunOnce(config, Options()), kExitWorkerStart);
  std::vector<json> reports =
      RequestsTo("POST", "/api/worker-manager/v1/worker-pool-errors/proj-cloud%2Flinux");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0]["hawkVerified"], true);
  EXPECT_EQ(reports[0]["body"]["kind"], "worker-runner-startup-error");
  EXPECT_EQ(reports[0]["body"]["workerId"], kWorkerId);
  EXPECT_EQ(ReadFile(marker()), "ran\n");
  EXPECT_TRUE(Removes().empty());
}

TEST_F(SupervisionTest, RebootingWorkerResumesFromTheCacheWithTheNewestSecret) {
  StartFake({{"credentialLifetimeSeconds", 32}});
  // First boot: registers, renews once (a new one-time secret), then reboots the host (67).
  WriteScript({"hello new-credentials", "wait-for new-credentials 30000", "exit 67"});
  ASSERT_EQ(RunOnce(Config(/*with_cache=*/true), Options()), kExitWorkerReboot);
  EXPECT_TRUE(Removes().empty());
  ASSERT_TRUE(test_support::PathExists(cache()));
  EXPECT_EQ(provider_calls_.configure.load(), 1);
  const size_t renewals_before = Reregisters().size();
  ASSERT_GE(renewals_before, 1u);
  const std::string token_before = json::parse(ReadFile(cache()))["Credentials"]["accessToken"];

  // Second boot: no registration; the cached identity renews with the newest secret (the fake
  // accepts only the last one it issued) and the worker config starts from current credentials.
  WriteScript({"hello new-credentials", "wait-for new-credentials 30000", "exit 0"});
  ASSERT_EQ(RunOnce(Config(/*with_cache=*/true), Options()), kExitOk);
  EXPECT_EQ(Registers().size(), 1u);
  EXPECT_EQ(provider_calls_.configure.load(), 1);
  EXPECT_EQ(provider_calls_.use_cached.load(), 1);
  std::vector<json> renewals = Reregisters();
  ASSERT_GT(renewals.size(), renewals_before);
  EXPECT_EQ(renewals[renewals_before]["hawkVerified"], true) << renewals[renewals_before].dump();
  EXPECT_NE(json::parse(ReadFile(cache()))["Credentials"]["accessToken"], token_before);
  EXPECT_EQ(Removes().size(), 1u);
}

TEST_F(SupervisionTest, ResumesFromAnUpstreamCacheFile) {
  const std::string secret = "seeded-secret-from-the-previous-runner-version";
  StartFake({{"clients",
              {{"worker/fake-cloud/proj-cloud/linux/region-1/i-0abc",
                {{"accessToken", "cached-token"}, {"certificate", {{"version", 1}}}}}}},
             {"workerSecrets", {{"proj-cloud/linux/region-1/i-0abc", secret}}},
             {"credentialLifetimeSeconds", 3600}});
  // Expiring in 31 s: renewal is due after 1 s.
  const std::string expires = taskcluster::FormatTaskclusterTime(absl::Now() + absl::Seconds(31));
  json upstream = {{"RootURL", fake_->root_url()},
                   {"Credentials",
                    {{"clientId", "worker/fake-cloud/proj-cloud/linux/region-1/i-0abc"},
                     {"accessToken", "cached-token"},
                     {"certificate", "{\"version\":1}"},
                     {"authorizedScopes", nullptr}}},
                   {"CredentialsExpire", expires},
                   {"RegistrationSecret", secret},
                   {"WorkerPoolID", kPool},
                   {"WorkerGroup", kGroup},
                   {"WorkerID", kWorkerId},
                   {"ProviderID", "fake-cloud"},
                   {"ProviderMetadata", {{"instance-id", kWorkerId}}},
                   {"WorkerConfig", {{"clientId", "stale"}, {"accessToken", "stale"}, {"keep", 1}}},
                   {"Files", nullptr},
                   {"WorkerLocation", {{"cloud", "aws"}}}};
  test_support::WriteFile(cache(), upstream.dump(), 0600);
  WriteScript({"hello new-credentials", "wait-for new-credentials 30000", "exit 0"});
  ASSERT_EQ(RunOnce(Config(/*with_cache=*/true), Options()), kExitOk) << fake_->Stderr();
  EXPECT_TRUE(Registers().empty());
  ASSERT_GE(Reregisters().size(), 1u);
  EXPECT_EQ(Reregisters()[0]["hawkVerified"], true) << Reregisters()[0].dump();
  EXPECT_EQ(Reregisters()[0]["body"]["secret"], secret);
  json gw = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(gw["keep"], 1);
  EXPECT_EQ(gw["fromRunnerFile"], true);
  EXPECT_NE(gw["accessToken"], "stale");
}

TEST_F(SupervisionTest, RefusesACacheWithExpiredCredentials) {
  StartFake(json::object());
  providers::RunState state;
  state.root_url = fake_->root_url();
  state.credentials_expire = absl::Now() - absl::Minutes(1);
  ASSERT_TRUE(WriteStateCache(cache(), state).ok());
  test_support::LogCapture logs;
  EXPECT_EQ(RunOnce(Config(/*with_cache=*/true), Options()), kExitStartup);
  EXPECT_FALSE(logs.LinesContaining("expired").empty());
  EXPECT_TRUE(fake_->Requests().empty());
  // A cloud instance that cannot start powers off rather than idling.
  EXPECT_EQ(ReadFile(marker()), "ran\n");
}

TEST_F(SupervisionTest, RenewalResponseWithoutSecretIsLoggedAndTheWorkerToldToStop) {
  StartFake(json::parse(R"({"credentialLifetimeSeconds": 32, "responses": {"reregisterWorker": [
      {"status": 200, "body": {"expires": "2099-01-01T00:00:00.000Z",
       "credentials": {"clientId": "c", "accessToken": "t", "certificate": ""}}}]}})"));
  WriteScript({"hello new-credentials,graceful-termination", "wait-for graceful-termination 40000",
               "exit 0"});
  test_support::LogCapture logs;
  ASSERT_EQ(RunOnce(Config(), Options()), kExitOk);
  EXPECT_FALSE(logs.LinesContaining("credential renewal failed").empty());
  EXPECT_TRUE(WorkerMessages("new-credentials").empty());
  EXPECT_EQ(WorkerMessages("graceful-termination").size(), 1u);
}

TEST_F(SupervisionTest, BadWorkerInputIsLoggedNeverACrash) {
  StartFake(json::object());
  WriteScript({"hello shutdown,error-report",
               "send ~{\"type\":\"hello\",\"capabilities\":[\"log\"]}",
               "send ~{\"type\":\"hello\",\"capabilities\":[1,{}]}",
               "send ~{\"type\":\"error-report\",\"kind\":\"k\",\"title\":\"t\",\"description\":"
               "\"d\",\"extra\":null}",
               "exit 0"});
  ASSERT_EQ(RunOnce(Config(), Options()), kExitOk);
  EXPECT_EQ(Removes().size(), 1u);

  // A worker that never says hello still ends the run normally.
  WriteScript({"exit 0"});
  ASSERT_EQ(RunOnce(Config(), Options()), kExitOk);
}

TEST_F(SupervisionTest, StopRequestWaitsTheGracePeriodThenTerminates) {
  StartFake(json::object());
  std::string fifo = dir_.File("never");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  WriteScript({"hello graceful-termination", "wait-fifo " + fifo, "exit 0"});
  RunStatus status("test", absl::Now());
  RunnerOptions options = Options();
  options.stop_grace_period = absl::Milliseconds(500);
  Runner runner(Config(), &status, std::move(options));
  auto run = std::async(std::launch::async, [&] { return runner.Run(); });
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!status.Snapshot().protocol_negotiated && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // polling the status; it has no change event
  }
  ASSERT_TRUE(status.Snapshot().protocol_negotiated);
  runner.RequestStop("sigterm");
  ASSERT_EQ(run.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_EQ(run.get(), kExitStopped);
  EXPECT_EQ(status.Snapshot().worker_exit_status, 128 + SIGTERM);
  EXPECT_EQ(WorkerMessages("graceful-termination").size(), 1u);
  // Killed by SIGTERM, not a clean exit: the worker stays registered.
  EXPECT_TRUE(Removes().empty());
}

TEST_F(SupervisionTest, StopAfterAnEarlierGracefulTerminationStillWaitsTheGracePeriod) {
  // The renewal asks the worker to stop (it cannot take new credentials); it ignores that. A stop
  // request then still gives it the grace period before SIGTERM.
  StartFake({{"credentialLifetimeSeconds", 31}});
  std::string fifo = dir_.File("never");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  WriteScript({"hello graceful-termination", "wait-for graceful-termination 30000",
               "wait-fifo " + fifo, "exit 0"});
  test_support::LogCapture logs;
  RunStatus status("test", absl::Now());
  RunnerOptions options = Options();
  options.stop_grace_period = absl::Seconds(1);
  Runner runner(Config(), &status, std::move(options));
  auto run = std::async(std::launch::async, [&] { return runner.Run(); });
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (logs.LinesContaining("outcome=sent").empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // polling a log line; there is no event to wait on
  }
  ASSERT_FALSE(logs.LinesContaining("outcome=sent").empty());
  absl::Time asked = absl::Now();
  runner.RequestStop("sigterm");
  ASSERT_EQ(run.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  EXPECT_GE(absl::Now() - asked, absl::Seconds(1));
  EXPECT_EQ(run.get(), kExitStopped);
  EXPECT_EQ(WorkerMessages("graceful-termination").size(), 1u);
}

}  // namespace
}  // namespace runner::lifecycle
