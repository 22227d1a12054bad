// start-worker as an AWS and a Google worker: the fake cloud metadata services (in this process,
// on 127.0.0.1) and the fake Taskcluster (Node.js) stand in for the cloud; the fake worker
// records what it receives. Covers registration, the generic-worker config, and each
// interruption path end to end.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/aws/fake_aws_metadata.h"
#include "tests/fakes/google/fake_google_metadata.h"
#include "tests/fakes/process_util.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner {
namespace {

using nlohmann::json;
using test_support::ReadFile;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBin = RUNNER_BIN_DIR;
constexpr char kRegisterPath[] = "/api/worker-manager/v1/worker/register";
// The message itself, not the capability named in `welcome`.
constexpr char kTerminationType[] = R"("type":"graceful-termination")";
constexpr char kInstanceAction[] = "/latest/meta-data/spot/instance-action";

class CloudRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = fakes::FakeTaskclusterProcess::Start(json::object());
    ASSERT_TRUE(fake.ok()) << fake.status();
    taskcluster_ = std::move(fake).value();
  }

  void TearDown() override {
    for (pid_t pid : started_) test_support::KillProcess(pid);
  }

  std::string gw_config() const { return dir_.File("gw-config.json"); }
  std::string runner_log() const { return dir_.File("runner.log"); }
  std::string stdin_log() const { return dir_.File("stdin.log"); }
  std::string socket() const { return dir_.File("api.sock"); }

  std::string Config(const std::string& provider_type) const {
    return absl::StrCat("provider:\n  providerType: ", provider_type,
                        "\nworker:\n  implementation: generic-worker\n  path: ", kBin,
                        "/fake-worker\n  configPath: ", gw_config(),
                        "\ngetSecrets: false\nworkerConfig:\n  fromRunnerFile: true\n"
                        "api:\n  socket: ",
                        socket(), "\n");
  }

  void WriteScript(const std::vector<std::string>& lines) {
    test_support::WriteFile(dir_.File("script"), absl::StrJoin(lines, "\n") + "\n");
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

  pid_t StartRunner(const std::string& provider_type, const std::string& metadata_url) {
    std::string path = dir_.File("runner.yaml");
    test_support::WriteFile(path, Config(provider_type), 0600);
    pid_t pid = test_support::StartProcess(
        {kBin + "/start-worker", path},
        {"WORKER_RUNNER_METADATA_URL=" + metadata_url, "FAKE_WORKER_SCRIPT=" + dir_.File("script"),
         "FAKE_WORKER_STDIN_LOG=" + stdin_log()},
        "", runner_log());
    EXPECT_GT(pid, 0);
    started_.push_back(pid);
    return pid;
  }

  int WaitRunner(pid_t pid, absl::Duration timeout = absl::Seconds(60)) {
    std::optional<int> code = test_support::WaitProcess(pid, timeout);
    EXPECT_TRUE(code.has_value()) << "start-worker did not exit; log:\n" << ReadFile(runner_log());
    return code.value_or(-1);
  }

  void WaitForLog(const std::string& needle) {
    ASSERT_TRUE(test_support::WaitForFileToContain(runner_log(), needle, absl::Seconds(30)))
        << "no \"" << needle << "\" in:\n"
        << ReadFile(runner_log());
  }

  // Message types the worker received, in order.
  std::vector<std::string> ReceivedTypes() const {
    std::vector<std::string> types;
    for (absl::string_view line : absl::StrSplit(ReadFile(stdin_log()), '\n', absl::SkipEmpty())) {
      if (line.size() < 2 || line[0] != '~') continue;
      json message = json::parse(line.substr(1), nullptr, false);
      if (message.is_object()) types.push_back(message.value("type", ""));
    }
    return types;
  }

  int Received(const std::string& type) const {
    int count = 0;
    for (const std::string& seen : ReceivedTypes()) count += seen == type ? 1 : 0;
    return count;
  }

  std::vector<json> Registrations() const {
    std::vector<json> found;
    for (const json& request : taskcluster_->Requests()) {
      if (request["method"] == "POST" && request["path"] == kRegisterPath) found.push_back(request);
    }
    return found;
  }

  json RunnerStatus() {
    auto result = test_support::RunCommand(
        {kBin + "/runnerctl", "--socket", socket(), "-o", "json", "status"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return json::parse(result.out, nullptr, false);
  }

  test_support::TempDir dir_;
  std::unique_ptr<fakes::FakeTaskclusterProcess> taskcluster_;
  std::vector<pid_t> started_;
};

// ---- aws ----

class AwsRunTest : public CloudRunTest {
 protected:
  void StartAws(const fakes::FakeAwsInstance& instance) {
    aws_ = std::make_unique<fakes::FakeAwsMetadata>(instance);
    ASSERT_TRUE(aws_->Start().ok());
  }
  fakes::FakeAwsInstance Typical() const {
    // A trailing '/' in the pool's rootUrl is normalised away.
    return fakes::FakeAwsInstance::Typical(taskcluster_->root_url() + "/");
  }
  pid_t StartRunner() { return CloudRunTest::StartRunner("aws", aws_->url()); }

  std::unique_ptr<fakes::FakeAwsMetadata> aws_;
};

TEST_F(AwsRunTest, RegistersWithTheSignedDocumentAndWritesLocationAndMetadata) {
  fakes::FakeAwsInstance instance = Typical();
  StartAws(instance);
  WriteScript({"wait-for welcome", "hello graceful-termination", "exit 0"});
  ASSERT_EQ(WaitRunner(StartRunner()), 0) << ReadFile(runner_log());

  auto registers = Registrations();
  ASSERT_EQ(registers.size(), 1u) << taskcluster_->Stderr();
  json body = registers[0]["body"];
  EXPECT_EQ(registers[0]["authorization"], false);
  EXPECT_EQ(body["workerPoolId"], "proj-aws/linux");
  EXPECT_EQ(body["providerId"], "aws-spot");
  EXPECT_EQ(body["workerGroup"], "us-west-2");
  EXPECT_EQ(body["workerId"], "i-0123456789abcdef0");
  // The document goes out byte for byte, newlines and spacing included.
  EXPECT_EQ(body["workerIdentityProof"],
            json({{"document", instance.identity_document}, {"signature", instance.signature}}));

  json config = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(config["rootURL"], taskcluster_->root_url());
  EXPECT_EQ(config["workerId"], "i-0123456789abcdef0");
  EXPECT_EQ(config["provisionerId"], "proj-aws");
  EXPECT_EQ(config["workerType"], "linux");
  EXPECT_EQ(config["workerLocation"],
            R"({"availabilityZone":"us-west-2b","cloud":"aws","region":"us-west-2"})");
  EXPECT_EQ(config["publicIP"], "54.1.2.3");
  EXPECT_EQ(config["privateIP"], "10.0.1.12");
  EXPECT_EQ(config["instanceType"], "m5.large");
  EXPECT_EQ(config["instanceID"], "i-0123456789abcdef0");
  EXPECT_EQ(config["region"], "us-west-2");
  EXPECT_EQ(config["availabilityZone"], "us-west-2b");
  EXPECT_EQ(config["workerTypeMetadata"]["public-hostname"],
            "ec2-54-1-2-3.us-west-2.compute.amazonaws.com");
  EXPECT_EQ(config["fromRunnerFile"], true);
  EXPECT_FALSE(config.contains("fromUserData"));

  // Every GET carried a token from a PUT with the TTL header.
  for (const auto& request : aws_->requests()) {
    if (request.method == "PUT") {
      ASSERT_NE(request.FindHeader("X-aws-ec2-metadata-token-ttl-seconds"), nullptr);
      EXPECT_EQ(*request.FindHeader("X-aws-ec2-metadata-token-ttl-seconds"), "21600");
    } else {
      EXPECT_NE(request.FindHeader("X-aws-ec2-metadata-token"), nullptr) << request.target;
    }
  }
  // No notice, no graceful-termination; the token stays secret.
  EXPECT_EQ(Received("graceful-termination"), 0);
  EXPECT_THAT(ReadFile(runner_log()), Not(HasSubstr("fake-imds-token")));
}

TEST_F(AwsRunTest, InstanceWithoutPublicAddressStartsAndLeavesThePublicKeysOut) {
  fakes::FakeAwsInstance instance = Typical();
  instance.public_hostname.reset();
  instance.public_ipv4.reset();
  StartAws(instance);
  WriteScript({"wait-for welcome", "hello", "exit 0"});
  ASSERT_EQ(WaitRunner(StartRunner()), 0) << ReadFile(runner_log());

  json config = json::parse(ReadFile(gw_config()));
  EXPECT_FALSE(config.contains("publicIP"));
  EXPECT_EQ(config["privateIP"], "10.0.1.12");
  EXPECT_FALSE(config["workerTypeMetadata"].contains("public-hostname"));
  EXPECT_FALSE(config["workerTypeMetadata"].contains("public-ipv4"));
}

TEST_F(AwsRunTest, SpotNoticeBeforeHelloIsHeldDeliveredOnceAndShownInStatus) {
  StartAws(Typical());
  std::string hello_gate = MakeFifo("hello-gate");
  std::string exit_gate = MakeFifo("exit-gate");
  WriteScript({"wait-for welcome", "wait-fifo " + hello_gate, "hello graceful-termination",
               "wait-for graceful-termination", "wait-fifo " + exit_gate, "exit 0"});
  pid_t runner = StartRunner();
  ASSERT_TRUE(aws_->WaitForCount("GET", kInstanceAction, 1, absl::Seconds(30)))
      << ReadFile(runner_log());

  aws_->SetSpotInstanceAction("terminate", "2026-12-04T20:02:00Z");
  WaitForLog(R"(outcome="queued until hello")");
  EXPECT_EQ(Received("graceful-termination"), 0);
  json status = RunnerStatus();
  EXPECT_EQ(status["interruption"]["source"], "aws");
  EXPECT_EQ(status["interruption"]["kind"], "spot-termination");
  EXPECT_EQ(status["interruption"]["deadline"], "2026-12-04T20:02:00Z");

  ReleaseFifo(hello_gate);
  ASSERT_TRUE(test_support::WaitForFileToContain(stdin_log(), kTerminationType, absl::Seconds(20)));
  // Several more polls pass (the notice is still there) before the worker exits.
  int polls = aws_->Count("GET", "/latest/meta-data/events/recommendations/rebalance");
  ASSERT_TRUE(aws_->WaitForCount("GET", "/latest/meta-data/events/recommendations/rebalance",
                                 polls + 3, absl::Seconds(20)));
  ReleaseFifo(exit_gate);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
  EXPECT_EQ(Received("graceful-termination"), 1);
  EXPECT_THAT(ReadFile(stdin_log()), HasSubstr(R"("finish-tasks":false)"));
}

TEST_F(AwsRunTest, RejectedTokenIsRenewedAndTheNoticeStillArrives) {
  StartAws(Typical());
  WriteScript({"wait-for welcome", "hello graceful-termination",
               "wait-for graceful-termination 30000", "exit 0"});
  pid_t runner = StartRunner();
  ASSERT_TRUE(aws_->WaitForCount("GET", kInstanceAction, 1, absl::Seconds(30)));
  int tokens = aws_->tokens_issued();

  aws_->RejectIssuedTokens();
  aws_->SetSpotInstanceAction("terminate", "2026-12-04T20:02:00Z");
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
  EXPECT_EQ(Received("graceful-termination"), 1);
  EXPECT_GT(aws_->tokens_issued(), tokens);
}

TEST_F(AwsRunTest, AdvisoryEventsAreRecordedButDoNotStopTheWorker) {
  StartAws(Typical());
  std::string exit_gate = MakeFifo("exit-gate");
  WriteScript(
      {"wait-for welcome", "hello graceful-termination", "wait-fifo " + exit_gate, "exit 0"});
  pid_t runner = StartRunner();
  WaitForLog("protocol negotiated");

  aws_->SetRebalanceRecommendation("2026-12-04T19:00:00Z");
  aws_->SetScheduledMaintenance(
      R"([{"Code":"system-reboot","EventId":"instance-event-1","NotBefore":"21 Jan 2027 09:00:43 GMT","State":"active"}])");
  WaitForLog("kind=scheduled-maintenance:system-reboot");
  json status = RunnerStatus();
  EXPECT_EQ(status["interruption"]["kind"], "rebalance-recommendation");
  EXPECT_EQ(Received("graceful-termination"), 0);

  // A spot notice that follows is terminating and takes the advisory's place in the status.
  aws_->SetSpotInstanceAction("terminate", "2026-12-04T20:02:00Z");
  ASSERT_TRUE(test_support::WaitForFileToContain(stdin_log(), kTerminationType, absl::Seconds(20)));
  EXPECT_EQ(RunnerStatus()["interruption"]["kind"], "spot-termination");
  ReleaseFifo(exit_gate);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
  EXPECT_EQ(Received("graceful-termination"), 1);
}

TEST_F(AwsRunTest, AnnouncedTerminationAtStartIsRefusedWithoutRegistering) {
  StartAws(Typical());
  aws_->SetSpotTerminationTime("2026-12-04T20:02:00Z");
  WriteScript({"exit 0"});
  EXPECT_EQ(WaitRunner(StartRunner()), 4) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("instance is about to shutdown"));
  EXPECT_TRUE(Registrations().empty());
  EXPECT_FALSE(test_support::PathExists(gw_config()));
}

TEST_F(AwsRunTest, UserDataThatIsNotJsonEndsStartUpNamingTheEndpoint) {
  fakes::FakeAwsInstance instance = Typical();
  instance.user_data = "#!/bin/bash\nsecret-looking-script";
  StartAws(instance);
  WriteScript({"exit 0"});
  EXPECT_EQ(WaitRunner(StartRunner()), 4) << ReadFile(runner_log());
  std::string log = ReadFile(runner_log());
  EXPECT_THAT(log, HasSubstr("/latest/user-data: not a JSON object"));
  EXPECT_THAT(log, Not(HasSubstr("secret-looking-script")));
  EXPECT_TRUE(Registrations().empty());
}

// ---- google ----

class GoogleRunTest : public CloudRunTest {
 protected:
  void StartGoogle() {
    google_ = std::make_unique<fakes::FakeGoogleMetadata>(taskcluster_->root_url());
    ASSERT_TRUE(google_->Start().ok());
  }
  pid_t StartRunner() { return CloudRunTest::StartRunner("google", google_->url()); }

  std::unique_ptr<fakes::FakeGoogleMetadata> google_;
};

TEST_F(GoogleRunTest, RegistersWithTheIdentityTokenAndWritesLocationAndMetadata) {
  StartGoogle();
  WriteScript({"wait-for welcome", "hello graceful-termination", "exit 0"});
  ASSERT_EQ(WaitRunner(StartRunner()), 0) << ReadFile(runner_log());

  auto registers = Registrations();
  ASSERT_EQ(registers.size(), 1u) << taskcluster_->Stderr();
  json body = registers[0]["body"];
  EXPECT_EQ(body["workerPoolId"], "proj-gcp/linux");
  EXPECT_EQ(body["providerId"], "gcp-pool");
  EXPECT_EQ(body["workerGroup"], "us-east1");
  EXPECT_EQ(body["workerId"], "4520031799277581759");
  EXPECT_EQ(body["workerIdentityProof"],
            json({{"token", "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJmYWtlIn0.ZmFrZS1nY3Atc2lnbmF0dXJl"}}));

  json config = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(config["workerLocation"],
            R"({"cloud":"google","region":"us-east1","zone":"us-east1-b"})");
  EXPECT_EQ(config["publicIP"], "35.1.2.3");
  EXPECT_EQ(config["privateIP"], "10.128.0.7");
  EXPECT_EQ(config["instanceType"], "projects/1234567/machineTypes/n2-standard-4");
  EXPECT_EQ(config["region"], "us-east1");
  EXPECT_EQ(config["workerTypeMetadata"]["zone"], "us-east1-b");
  EXPECT_EQ(config["workerTypeMetadata"]["project-id"], "proj-gcp-123");
  EXPECT_FALSE(config.contains("fromAttributes"));
  EXPECT_THAT(ReadFile(runner_log()), Not(HasSubstr("ZmFrZS1nY3Atc2lnbmF0dXJl")));
}

TEST_F(GoogleRunTest, VmWithoutExternalAddressStartsWithoutPublicIp) {
  StartGoogle();
  google_->Remove("/instance/network-interfaces/0/access-configs/0/external-ip");
  WriteScript({"wait-for welcome", "hello", "exit 0"});
  ASSERT_EQ(WaitRunner(StartRunner()), 0) << ReadFile(runner_log());
  json config = json::parse(ReadFile(gw_config()));
  EXPECT_FALSE(config.contains("publicIP"));
  EXPECT_FALSE(config["workerTypeMetadata"].contains("public-ipv4"));
}

TEST_F(GoogleRunTest, PreemptionBeforeHelloIsHeldAndDeliveredOnce) {
  StartGoogle();
  std::string hello_gate = MakeFifo("hello-gate");
  WriteScript({"wait-for welcome", "wait-fifo " + hello_gate, "hello graceful-termination",
               "wait-for graceful-termination", "exit 0"});
  pid_t runner = StartRunner();
  ASSERT_TRUE(google_->WaitForHanging(1, absl::Seconds(30))) << ReadFile(runner_log());

  google_->Preempt();
  WaitForLog(R"(outcome="queued until hello")");
  EXPECT_EQ(RunnerStatus()["interruption"]["kind"], "preemption");
  ReleaseFifo(hello_gate);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
  EXPECT_EQ(Received("graceful-termination"), 1);
  // Each request carried the flavor header (the fake answers 403 otherwise) and the watch sent
  // one hanging request.
  EXPECT_EQ(google_->hanging_received(), 1);
}

TEST_F(GoogleRunTest, HangingRequestIsEndedCleanlyWhenTheWorkerExits) {
  StartGoogle();
  std::string exit_gate = MakeFifo("exit-gate");
  WriteScript(
      {"wait-for welcome", "hello graceful-termination", "wait-fifo " + exit_gate, "exit 0"});
  pid_t runner = StartRunner();
  ASSERT_TRUE(google_->WaitForHanging(1, absl::Seconds(30))) << ReadFile(runner_log());

  absl::Time released = absl::Now();
  ReleaseFifo(exit_gate);
  EXPECT_EQ(WaitRunner(runner), 0) << ReadFile(runner_log());
  // The worker's output drain and the watcher stop each take at most about a second.
  EXPECT_LT(absl::Now() - released, absl::Seconds(5));
  EXPECT_EQ(Received("graceful-termination"), 0);
  EXPECT_EQ(google_->hanging_received(), 1);
}

TEST_F(GoogleRunTest, AlreadyPreemptedInstanceIsRefusedWithoutRegistering) {
  StartGoogle();
  google_->Preempt();
  WriteScript({"exit 0"});
  EXPECT_EQ(WaitRunner(StartRunner()), 4) << ReadFile(runner_log());
  EXPECT_THAT(ReadFile(runner_log()), HasSubstr("instance is about to shutdown"));
  EXPECT_TRUE(Registrations().empty());
}

}  // namespace
}  // namespace runner
