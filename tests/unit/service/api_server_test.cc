// The API server in-process on a socket in a temporary directory, called through the generated
// gRPC stub: every call, the event feed's resume, filtering, slow-subscriber handling and the
// graceful stop.
#include "server/service/api_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"

#include "proto/runner.grpc.pb.h"
#include "tests/fakes/process_util.h"

namespace runner::service {
namespace {

namespace v1 = workerrunner::v1;
using ::testing::HasSubstr;

class ApiServerTest : public ::testing::Test {
 protected:
  void StartServer(ApiServerOptions options = {}) {
    server_ = std::make_unique<ApiServer>(&status_, std::move(options));
    ASSERT_TRUE(server_->Start(socket()).ok());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Stop();
  }

  std::string socket() const { return dir_.File("run/api.sock"); }

  std::unique_ptr<v1::Runner::Stub> Stub(const grpc::ChannelArguments& args = {}) {
    return v1::Runner::NewStub(
        grpc::CreateCustomChannel("unix:" + socket(), grpc::InsecureChannelCredentials(), args));
  }

  static void Deadline(grpc::ClientContext* context, int seconds = 10) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  }

  // Reads a whole non-following feed.
  std::vector<v1::Event> ReadAll(const v1::WatchEventsRequest& request, grpc::Status* status) {
    grpc::ClientContext context;
    Deadline(&context);
    auto reader = Stub()->WatchEvents(&context, request);
    std::vector<v1::Event> events;
    v1::Event event;
    while (reader->Read(&event)) events.push_back(event);
    *status = reader->Finish();
    return events;
  }

  test_support::TempDir dir_;
  lifecycle::RunStatus status_{"9.9.9", absl::Now(), /*event_capacity=*/8};
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerTest, CreatesPrivateDirectoryAndSocketAndRemovesSocketOnStop) {
  StartServer();
  EXPECT_EQ(test_support::FileMode(dir_.File("run")), 0750);
  EXPECT_EQ(test_support::FileMode(socket()), 0660);
  server_->Stop();
  EXPECT_FALSE(test_support::PathExists(socket()));
}

TEST_F(ApiServerTest, SocketAndNewDirectoryBelongToTheApiGroup) {
  if (getuid() != 0) GTEST_SKIP() << "changing a file's group to another group needs root";
  ApiServerOptions options;
  options.group = "nogroup";
  StartServer(std::move(options));
  struct stat info;
  ASSERT_EQ(stat(socket().c_str(), &info), 0);
  EXPECT_EQ(info.st_gid, LookupGroup("nogroup").value());
  ASSERT_EQ(stat(dir_.File("run").c_str(), &info), 0);
  EXPECT_EQ(info.st_gid, LookupGroup("nogroup").value());
}

TEST_F(ApiServerTest, UnknownGroupIsRefused) {
  ApiServerOptions options;
  options.group = "no-such-group-for-runner-tests";
  ApiServer server(&status_, options);
  absl::Status started = server.Start(socket());
  EXPECT_EQ(started.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(started.message()), HasSubstr("no-such-group-for-runner-tests"));
}

TEST_F(ApiServerTest, ConfigIsUnavailableUntilFinalThenRedacted) {
  StartServer();
  {
    grpc::ClientContext context;
    Deadline(&context);
    v1::WorkerConfig config;
    grpc::Status result = Stub()->GetConfig(&context, {}, &config);
    EXPECT_EQ(result.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  status_.SetWorkerConfig(
      {{{"cachesDir", "/c"}, {"accessToken", "[redacted]"}, {"n", 900}}, {"/accessToken"}});
  grpc::ClientContext context;
  Deadline(&context);
  v1::WorkerConfig config;
  ASSERT_TRUE(Stub()->GetConfig(&context, {}, &config).ok());
  EXPECT_EQ(config.config().fields().at("cachesDir").string_value(), "/c");
  EXPECT_EQ(config.config().fields().at("accessToken").string_value(), "[redacted]");
  EXPECT_EQ(config.config().fields().at("n").number_value(), 900);
  EXPECT_THAT(config.redacted(), ::testing::ElementsAre("/accessToken"));
}

TEST_F(ApiServerTest, DrainPassesTheCallerAndReportsTheOutcome) {
  std::vector<std::pair<bool, uint32_t>> calls;
  ApiServerOptions options;
  options.drain = [&calls](bool finish_tasks, uint32_t uid) {
    calls.emplace_back(finish_tasks, uid);
    return lifecycle::DrainOutcome::kQueued;
  };
  StartServer(std::move(options));
  grpc::ClientContext context;
  Deadline(&context);
  v1::DrainRequest request;
  request.set_finish_tasks(true);
  v1::DrainResponse response;
  ASSERT_TRUE(Stub()->Drain(&context, request, &response).ok());
  EXPECT_EQ(response.outcome(), v1::DRAIN_OUTCOME_QUEUED);
  EXPECT_THAT(response.message(), HasSubstr("hello"));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0], std::make_pair(true, static_cast<uint32_t>(getuid())));
}

TEST_F(ApiServerTest, FeedStartsWithCurrentStateThenResumesAndFilters) {
  StartServer();
  status_.SetPhase(lifecycle::RunPhase::kStartingWorker);  // 1
  status_.SetWorkerStarted(77);                            // 2
  status_.PublishErrorReport("worker-error", "t", "d");    // 3
  status_.SetNegotiated({"log"});                          // 4

  grpc::Status result;
  std::vector<v1::Event> all = ReadAll({}, &result);
  ASSERT_TRUE(result.ok()) << result.error_message();
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0].kind(), v1::EVENT_KIND_CURRENT_STATE);
  EXPECT_EQ(all[0].sequence(), 4u);
  EXPECT_EQ(all[0].current_state().worker_pid(), 77);
  EXPECT_EQ(all[1].runner_state(), v1::RUN_STATE_STARTING_WORKER);
  EXPECT_EQ(all[4].worker_state().change(), v1::WorkerStateChange::CHANGE_NEGOTIATED);

  v1::WatchEventsRequest resume;
  resume.set_since(2);
  resume.add_kinds(v1::EVENT_KIND_ERROR_REPORT);
  std::vector<v1::Event> filtered = ReadAll(resume, &result);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(filtered.size(), 2u);
  EXPECT_EQ(filtered[1].sequence(), 3u);
  EXPECT_EQ(filtered[1].error_report().title(), "t");

  // The ring keeps 8: after 12 events, resuming after 1 has lost 2..4.
  for (int i = 0; i < 8; ++i) status_.PublishShutdownRequest();
  resume.Clear();
  resume.set_since(1);
  ReadAll(resume, &result);
  EXPECT_EQ(result.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_THAT(result.error_message(), HasSubstr("no longer kept"));
}

TEST_F(ApiServerTest, StoppingSendsTheFinalEventAndEndsFollowersCleanly) {
  StartServer();
  grpc::ClientContext context;
  v1::WatchEventsRequest request;
  request.set_follow(true);
  auto reader = Stub()->WatchEvents(&context, request);
  v1::Event event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_CURRENT_STATE);

  status_.PublishShutdownRequest();
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_SHUTDOWN_REQUEST);

  std::thread stopper([this] { server_->Stop(); });
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_EQ(event.kind(), v1::EVENT_KIND_RUNNER_STOPPING);
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_TRUE(reader->Finish().ok());
  stopper.join();
  EXPECT_FALSE(test_support::PathExists(socket()));
}

// A subscriber that never reads must not hold up the others: it is cut off with
// RESOURCE_EXHAUSTED once its queue overflows, while a reading subscriber gets every event.
TEST_F(ApiServerTest, StalledSubscriberIsCutOffWithoutDelayingOthers) {
  ApiServerOptions options;
  options.max_queued_events = 32;
  StartServer(std::move(options));

  // The stalled client: no flow-control window growth, a small read-ahead.
  grpc::ChannelArguments stalled_args;
  stalled_args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  stalled_args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 * 1024);
  auto stalled_stub = Stub(stalled_args);
  grpc::ClientContext stalled_context;
  v1::WatchEventsRequest follow;
  follow.set_follow(true);
  auto stalled = stalled_stub->WatchEvents(&stalled_context, follow);
  // It reads the current state, so it is subscribed, and then nothing more for a while.
  v1::Event first;
  ASSERT_TRUE(stalled->Read(&first));

  // The reading client counts what arrives.
  absl::Mutex mu;
  bool subscribed = false;
  uint64_t last_seen = 0;
  bool in_order = true;
  grpc::ClientContext fast_context;
  auto fast = Stub()->WatchEvents(&fast_context, follow);
  std::thread reader([&] {
    v1::Event event;
    while (fast->Read(&event)) {
      absl::MutexLock lock(&mu);
      if (event.kind() == v1::EVENT_KIND_CURRENT_STATE) {
        subscribed = true;
        continue;
      }
      if (event.sequence() != last_seen + 1) in_order = false;
      last_seen = event.sequence();
    }
  });
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&subscribed), absl::Seconds(10)));
  }

  // 4 KiB events in bursts; each burst waits for the reading client, never for the stalled one.
  const std::string padding(4096, 'x');
  constexpr int kBursts = 40, kPerBurst = 25;
  for (int burst = 0; burst < kBursts; ++burst) {
    for (int i = 0; i < kPerBurst; ++i) status_.PublishErrorReport("load", "burst", padding);
    uint64_t want = static_cast<uint64_t>((burst + 1) * kPerBurst);
    absl::MutexLock lock(&mu);
    auto caught_up = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return last_seen >= want; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&caught_up), absl::Seconds(20)))
        << "reading subscriber stuck at " << last_seen << " of " << want;
  }
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(in_order);
    EXPECT_EQ(last_seen, static_cast<uint64_t>(kBursts * kPerBurst));
  }

  // Now the stalled client reads: what was written before the cut, then the status.
  v1::Event event;
  int received = 0;
  while (stalled->Read(&event)) ++received;
  grpc::Status stalled_status = stalled->Finish();
  EXPECT_EQ(stalled_status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(stalled_status.error_message(), HasSubstr("subscriber too slow"));
  EXPECT_THAT(stalled_status.error_message(), HasSubstr("events dropped"));
  EXPECT_LT(received, kBursts * kPerBurst);

  server_->Stop();
  reader.join();
  EXPECT_TRUE(fast->Finish().ok());
}

TEST(AccessControlTest, ReadForOwnerRootAndGroupControlOnlyForOwnerAndRoot) {
  AccessControl access(/*owner=*/1000, /*group=*/500);
  struct Case {
    const char* who;
    PeerCredentials peer;
    bool read, control;
  } cases[] = {
      {"root", {1, 0, 0, {}}, true, true},
      {"owner", {1, 1000, 1000, {}}, true, true},
      {"group as primary", {1, 2000, 500, {}}, true, false},
      {"group as supplementary", {1, 2000, 2000, {7, 500}}, true, false},
      {"stranger", {1, 65534, 65534, {65534}}, false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.who);
    EXPECT_EQ(access.MayRead(c.peer), c.read);
    EXPECT_EQ(access.MayControl(c.peer), c.control);
  }
  AccessControl no_group(1000, std::nullopt);
  EXPECT_FALSE(no_group.MayRead({1, 2000, 500, {500}}));
}

}  // namespace
}  // namespace runner::service
