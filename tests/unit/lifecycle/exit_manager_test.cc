#include "server/lifecycle/exit_manager.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/fakes/log_capture.h"
#include "tests/fakes/process_util.h"

namespace runner::lifecycle {
namespace {

using ::testing::HasSubstr;

// A shutdown.command that appends a line to `marker` instead of powering anything off.
std::vector<std::string> RecordingCommand(const std::string& marker) {
  return {"/bin/sh", "-c", "echo ran >> \"$0\"", marker};
}

TEST(RunCommandTest, ReportsExitStatusAndMissingPrograms) {
  EXPECT_TRUE(RunCommand({"/bin/true"}, absl::Seconds(10)).ok());
  absl::Status failed = RunCommand({"/bin/sh", "-c", "exit 3"}, absl::Seconds(10));
  EXPECT_THAT(std::string(failed.message()), HasSubstr("exited with status 3"));
  EXPECT_FALSE(RunCommand({"/nonexistent/poweroff"}, absl::Seconds(10)).ok());
  absl::Status slow = RunCommand({"/bin/sleep", "5"}, absl::Milliseconds(100));
  EXPECT_EQ(slow.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(ExitManagerTest, RemovesOnceHoweverOftenAsked) {
  test_support::TempDir dir;
  std::atomic<int> calls{0};
  ExitManager manager(
      /*dynamic=*/true,
      [&] {
        ++calls;
        absl::SleepFor(absl::Milliseconds(50));  // long enough for the callers to overlap
        return absl::OkStatus();
      },
      RecordingCommand(dir.File("marker")));
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] { EXPECT_TRUE(manager.RemoveWorker("test").ok()); });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_TRUE(manager.RemoveWorker("again").ok());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(test_support::PathExists(dir.File("marker")));
}

TEST(ExitManagerTest, RunsTheShutdownCommandOnceWhenRemovalFails) {
  test_support::TempDir dir;
  test_support::LogCapture logs;
  int calls = 0;
  ExitManager manager(
      /*dynamic=*/true,
      [&] {
        ++calls;
        return absl::UnavailableError("worker-manager unreachable");
      },
      RecordingCommand(dir.File("marker")));
  EXPECT_EQ(manager.RemoveWorker("shutdown message").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(manager.RemoveWorker("clean exit").code(), absl::StatusCode::kUnavailable);
  manager.PowerOff("later");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(test_support::ReadFile(dir.File("marker")), "ran\n");
  EXPECT_FALSE(logs.LinesContaining("removeWorker failed").empty());
}

TEST(ExitManagerTest, LogsAFailingShutdownCommand) {
  test_support::LogCapture logs;
  ExitManager manager(/*dynamic=*/true, [] { return absl::InternalError("no"); },
                      {"/bin/sh", "-c", "exit 4"});
  EXPECT_FALSE(manager.RemoveWorker("test").ok());
  EXPECT_EQ(logs.LinesContaining("shutdown.command failed").size(), 1u);
}

TEST(ExitManagerTest, DoesNothingForWorkersThatAreNotDynamicallyProvisioned) {
  test_support::TempDir dir;
  int calls = 0;
  ExitManager manager(
      /*dynamic=*/false,
      [&] {
        ++calls;
        return absl::InternalError("must not be called");
      },
      RecordingCommand(dir.File("marker")));
  EXPECT_TRUE(manager.RemoveWorker("clean exit").ok());
  manager.PowerOff("start-up failed");
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(test_support::PathExists(dir.File("marker")));
}

}  // namespace
}  // namespace runner::lifecycle
