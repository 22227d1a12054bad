// start-worker with providerType azure against the fake Azure metadata service (in this process,
// on 127.0.0.1) and the fake Taskcluster: registration, the generic-worker config, refusal to
// start, bad metadata, and every scheduled-event path up to the worker's stdin. Nothing leaves
// the machine: WORKER_RUNNER_METADATA_URL points the runner at the fake.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

#include "tests/fakes/azure/fake_azure_metadata.h"
#include "tests/fakes/process_util.h"
#include "tests/fakes/taskcluster/fake_taskcluster_process.h"

namespace runner {
namespace {

using fakes::FakeAzureEvent;
using fakes::FakeAzureMetadata;
using nlohmann::json;
using test_support::ReadFile;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBin = RUNNER_BIN_DIR;
constexpr char kTermination[] = R"(~{"finish-tasks":false,"type":"graceful-termination"})";

FakeAzureEvent Event(const std::string& id, const std::string& type,
                     std::vector<std::string> resources = {FakeAzureMetadata::kVmName}) {
  FakeAzureEvent event;
  event.event_id = id;
  event.event_type = type;
  event.resources = std::move(resources);
  return event;
}

class AzureProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azure_.Start().ok());
    auto tc = fakes::FakeTaskclusterProcess::Start(json::object());
    ASSERT_TRUE(tc.ok()) << tc.status();
    tc_ = std::move(tc).value();
    // A trailing '/' in the tag is normalised away.
    azure_.SetTags(FakeAzureMetadata::DefaultTags(tc_->root_url() + "/"));
  }

  void TearDown() override {
    if (runner_ > 0) test_support::KillProcess(runner_);
    azure_.Stop();
  }

  std::string gw_config() const { return dir_.File("gw-config.json"); }
  std::string log_path() const { return dir_.File("runner.log"); }
  std::string stdin_log() const { return dir_.File("stdin.log"); }
  std::string socket() const { return dir_.File("api.sock"); }

  void WriteScript(const std::vector<std::string>& lines) {
    test_support::WriteFile(dir_.File("script"), absl::StrJoin(lines, "\n") + "\n");
  }

  std::string MakeFifo(const std::string& name) {
    std::string path = dir_.File(name);
    EXPECT_EQ(mkfifo(path.c_str(), 0600), 0);
    return path;
  }
  void Release(const std::string& fifo) {
    int fd = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "go\n", 3), 3);
    close(fd);
  }

  void StartRunner() {
    std::string config = absl::StrCat(
        "provider:\n  providerType: azure\nworker:\n  implementation: generic-worker\n  path: ",
        kBin, "/fake-worker\n  configPath: ", gw_config(), "\napi:\n  socket: ", socket(),
        "\ngetSecrets: false\n");
    std::string path = dir_.File("runner.yaml");
    test_support::WriteFile(path, config, 0600);
    runner_ = test_support::StartProcess(
        {kBin + "/start-worker", path},
        {"WORKER_RUNNER_METADATA_URL=" + azure_.url(), "FAKE_WORKER_SCRIPT=" + dir_.File("script"),
         "FAKE_WORKER_STDIN_LOG=" + stdin_log()},
        "", log_path());
  }

  int WaitRunner() {
    std::optional<int> code = test_support::WaitProcess(runner_, absl::Seconds(60));
    if (!code.has_value()) test_support::KillProcess(runner_);
    runner_ = -1;
    EXPECT_TRUE(code.has_value()) << ReadFile(log_path());
    return code.value_or(-1);
  }

  int Run() {
    StartRunner();
    return WaitRunner();
  }

  bool LogShows(const std::string& text) {
    return test_support::WaitForFileToContain(log_path(), text, absl::Seconds(20));
  }

  // The lines the worker received that were graceful-termination messages.
  std::vector<std::string> TerminationsReceived() {
    std::vector<std::string> found;
    for (absl::string_view line : absl::StrSplit(ReadFile(stdin_log()), '\n')) {
      if (absl::StrContains(line, R"("type":"graceful-termination")")) found.emplace_back(line);
    }
    return found;
  }

  std::vector<json> Registrations() {
    std::vector<json> found;
    for (const json& request : tc_->Requests()) {
      if (request["method"] == "POST" &&
          request["path"] == "/api/worker-manager/v1/worker/register") {
        found.push_back(request);
      }
    }
    return found;
  }

  test_support::TempDir dir_;
  FakeAzureMetadata azure_;
  std::unique_ptr<fakes::FakeTaskclusterProcess> tc_;
  pid_t runner_ = -1;
};

TEST_F(AzureProviderTest, RegistersWithAttestedDocumentAndWritesGenericWorkerConfig) {
  WriteScript({"wait-for welcome", "hello graceful-termination", "exit 0"});
  ASSERT_EQ(Run(), 0) << ReadFile(log_path()) << tc_->Stderr();

  auto registrations = Registrations();
  ASSERT_EQ(registrations.size(), 1u) << tc_->Stderr();
  EXPECT_EQ(registrations[0]["authorization"], false);
  json body = registrations[0]["body"];
  EXPECT_EQ(body["workerPoolId"], "proj-azure/win2022");
  EXPECT_EQ(body["providerId"], "azure-east");
  EXPECT_EQ(body["workerGroup"], "westeurope");
  EXPECT_EQ(body["workerId"], FakeAzureMetadata::kVmName);
  EXPECT_EQ(body["workerIdentityProof"], json({{"document", FakeAzureMetadata::kSignature}}));

  json config = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(config["rootURL"], tc_->root_url());
  EXPECT_EQ(config["provisionerId"], "proj-azure");
  EXPECT_EQ(config["workerType"], "win2022");
  EXPECT_EQ(config["workerGroup"], "westeurope");
  EXPECT_EQ(config["workerId"], FakeAzureMetadata::kVmName);
  EXPECT_EQ(config["clientId"], absl::StrCat("worker/azure-east/proj-azure/win2022/westeurope/",
                                             FakeAzureMetadata::kVmName));
  EXPECT_EQ(config["workerLocation"], R"({"cloud":"azure","region":"westeurope"})");
  EXPECT_EQ(config["publicIP"], "20.30.40.50");
  EXPECT_EQ(config["privateIP"], "10.0.0.4");
  EXPECT_EQ(config["instanceType"], "Standard_D4s_v5");
  EXPECT_EQ(config["region"], "westeurope");
  EXPECT_EQ(config["workerTypeMetadata"], json({{"vm-id", FakeAzureMetadata::kVmId},
                                                {"instance-type", "Standard_D4s_v5"},
                                                {"region", "westeurope"},
                                                {"local-ipv4", "10.0.0.4"},
                                                {"public-ipv4", "20.30.40.50"}}));

  // Every metadata request carried the header and its endpoint's exact api-version.
  std::vector<std::string> targets;
  for (const auto& request : azure_.requests()) {
    ASSERT_NE(request.FindHeader("Metadata"), nullptr) << request.target;
    EXPECT_EQ(*request.FindHeader("Metadata"), "true");
    targets.push_back(request.target);
  }
  ASSERT_GE(targets.size(), 3u);
  EXPECT_EQ(targets[0], "/metadata/instance?api-version=2025-04-07");
  EXPECT_EQ(targets[1], "/metadata/attested/document?api-version=2025-04-07");
  for (size_t i = 2; i < targets.size(); ++i) {
    EXPECT_EQ(targets[i], "/metadata/scheduledevents?api-version=2020-07-01");
  }
}

TEST_F(AzureProviderTest, VmWithoutPublicAddressStartsWithoutThatKey) {
  azure_.SetInterfaces({{{"10.0.0.9", ""}}});
  WriteScript({"wait-for welcome", "hello", "exit 0"});
  ASSERT_EQ(Run(), 0) << ReadFile(log_path());
  json config = json::parse(ReadFile(gw_config()));
  EXPECT_EQ(config["privateIP"], "10.0.0.9");
  EXPECT_FALSE(config.contains("publicIP"));
  EXPECT_FALSE(config["workerTypeMetadata"].contains("public-ipv4"));
  EXPECT_EQ(config["workerTypeMetadata"]["local-ipv4"], "10.0.0.9");
}

TEST_F(AzureProviderTest, PreemptionReachesTheWorkerOnceAndTheStatus) {
  std::string release = MakeFifo("release");
  WriteScript({"wait-for welcome", "hello graceful-termination", "wait-for graceful-termination",
               "wait-fifo " + release, "exit 0"});
  StartRunner();
  ASSERT_TRUE(LogShows("protocol negotiated")) << ReadFile(log_path());

  FakeAzureEvent preempt = Event("spot-1", "Preempt");
  preempt.not_before = "Fri, 04 Dec 2026 20:00:00 GMT";
  azure_.PublishEvent(preempt);
  ASSERT_TRUE(
      test_support::WaitForFileToContain(stdin_log(), "graceful-termination", absl::Seconds(20)))
      << ReadFile(log_path());
  // The event stays published for more polls; none of them repeats the notice.
  size_t polls = azure_.scheduled_event_polls();
  ASSERT_TRUE(azure_.WaitForPolls(polls + 3, absl::Seconds(20)));

  auto status =
      test_support::RunCommand({kBin + "/runnerctl", "--socket", socket(), "-o", "json", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  json parsed = json::parse(status.out);
  EXPECT_EQ(parsed["interruption"]["source"], "azure") << status.out;
  EXPECT_EQ(parsed["interruption"]["kind"], "preemption");
  EXPECT_EQ(parsed["interruption"]["deadline"], "2026-12-04T20:00:00Z");

  Release(release);
  EXPECT_EQ(WaitRunner(), 0) << ReadFile(log_path());
  EXPECT_EQ(TerminationsReceived(), std::vector<std::string>{kTermination});
  EXPECT_EQ(azure_.max_scheduled_events_in_flight(), 1);
}

TEST_F(AzureProviderTest, NoticeBeforeHelloIsHeldUntilHello) {
  std::string gate = MakeFifo("gate");
  WriteScript({"wait-for welcome", "wait-fifo " + gate, "hello graceful-termination",
               "wait-for graceful-termination", "exit 0"});
  StartRunner();
  ASSERT_TRUE(LogShows("watching scheduled events")) << ReadFile(log_path());

  azure_.PublishEvent(Event("terminate-1", "Terminate"));
  ASSERT_TRUE(LogShows("queued until hello")) << ReadFile(log_path());
  EXPECT_TRUE(TerminationsReceived().empty());

  // Once the worker says hello the held message follows; the fake worker exits 90 without it.
  Release(gate);
  EXPECT_EQ(WaitRunner(), 0) << ReadFile(log_path());
  EXPECT_EQ(TerminationsReceived(), std::vector<std::string>{kTermination});
}

TEST_F(AzureProviderTest, FreezeOtherVmsAndAdvisoryEventsDoNotStopTheWorker) {
  std::string release = MakeFifo("release");
  WriteScript({"wait-for welcome", "hello graceful-termination", "wait-fifo " + release, "exit 0"});
  StartRunner();
  ASSERT_TRUE(LogShows("protocol negotiated")) << ReadFile(log_path());

  azure_.PublishEvent(Event("freeze-1", "Freeze"));
  azure_.PublishEvent(Event("other-1", "Preempt", {"vm-azure-8"}));
  azure_.PublishEvent(Event("reboot-1", "Reboot"));
  azure_.PublishEvent(Event("redeploy-1", "Redeploy"));
  ASSERT_TRUE(LogShows("kind=redeploy")) << ReadFile(log_path());
  ASSERT_TRUE(LogShows("kind=reboot")) << ReadFile(log_path());
  size_t polls = azure_.scheduled_event_polls();
  ASSERT_TRUE(azure_.WaitForPolls(polls + 2, absl::Seconds(20)));

  auto status =
      test_support::RunCommand({kBin + "/runnerctl", "--socket", socket(), "-o", "json", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_EQ(json::parse(status.out)["state"], "RUN_STATE_RUNNING");

  Release(release);
  EXPECT_EQ(WaitRunner(), 0) << ReadFile(log_path());
  EXPECT_TRUE(TerminationsReceived().empty()) << ReadFile(stdin_log());
  EXPECT_THAT(ReadFile(log_path()), Not(HasSubstr("freeze-1")));
  EXPECT_THAT(ReadFile(log_path()), Not(HasSubstr("kind=preemption")));
}

TEST_F(AzureProviderTest, RefusesToStartWhenTerminationIsAlreadyAnnounced) {
  azure_.PublishEvent(Event("early-1", "Preempt"));
  WriteScript({"wait-for welcome", "hello", "exit 0"});
  EXPECT_EQ(Run(), 4);
  EXPECT_THAT(ReadFile(log_path()), HasSubstr("about to shutdown"));
  EXPECT_TRUE(Registrations().empty());
  EXPECT_FALSE(test_support::PathExists(gw_config()));
}

TEST_F(AzureProviderTest, BadMetadataEndsStartUpWithAClearError) {
  struct Case {
    std::string name;
    FakeAzureMetadata::Endpoint endpoint;
    FakeAzureMetadata::ScriptedAnswer answer;
    std::string message;
  };
  json no_tags = azure_.instance();
  no_tags["compute"]["tagsList"] = json::array({{{"name", "root-url"}, {"value", "x"}}});
  for (const Case& c : std::vector<Case>{
           {"tags without worker-pool-id",
            FakeAzureMetadata::Endpoint::kInstance,
            {200, no_tags.dump(), absl::ZeroDuration()},
            "/metadata/instance: compute.tagsList: missing or empty tag worker-pool-id"},
           {"instance document not JSON",
            FakeAzureMetadata::Endpoint::kInstance,
            {200, "<html>", absl::ZeroDuration()},
            "/metadata/instance: response is not valid JSON"},
           {"attested document not JSON",
            FakeAzureMetadata::Endpoint::kAttested,
            {200, "MIIKpQ", absl::ZeroDuration()},
            "/metadata/attested/document: response is not valid JSON"},
           {"attested document refused",
            FakeAzureMetadata::Endpoint::kAttested,
            {403, "", absl::ZeroDuration()},
            "metadata GET /metadata/attested/document: http status 403"},
       }) {
    SCOPED_TRACE(c.name);
    azure_.SetAnswer(c.endpoint, c.answer);
    WriteScript({"wait-for welcome", "hello", "exit 0"});
    EXPECT_EQ(Run(), 4) << ReadFile(log_path());
    EXPECT_THAT(ReadFile(log_path()), HasSubstr(c.message));
    EXPECT_TRUE(Registrations().empty());
    azure_.SetAnswer(c.endpoint, std::nullopt);
  }
}

}  // namespace
}  // namespace runner
