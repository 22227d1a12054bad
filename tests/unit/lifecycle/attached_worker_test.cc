#include "server/lifecycle/attached_worker.h"

#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::lifecycle {
namespace {

using ::testing::HasSubstr;

class FakeChannel : public adapter::AttachedChannel {
 public:
  bool Send(const workerproto::WorkerMessage&) override { return true; }
  bool SignalWorker(int) override { return true; }
  void Abandon() override {}
};

config::WorkerSettings Worker(const std::string& implementation) {
  config::WorkerSettings settings;
  settings.implementation = implementation;
  return settings;
}

TEST(AttachedWorkerSlotTest, RunnerThatStartsItsOwnWorkerRefusesAtOnce) {
  AttachedWorkerSlot slot(Worker("generic-worker"));
  FakeChannel channel;
  absl::StatusOr<workerproto::RunnerSession*> attached = slot.Attach(&channel);
  ASSERT_EQ(attached.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(attached.status().message(), HasSubstr("starts its own worker"));
  EXPECT_THAT(attached.status().message(), HasSubstr("generic-worker"));
}

TEST(AttachedWorkerSlotTest, OneWorkerPerRunFromAttachToFinish) {
  AttachedWorkerSlot slot(Worker("external"));
  FakeChannel first;
  FakeChannel second;
  workerproto::RunnerSession session(workerproto::Capabilities::RunnerDefaults(), &first, nullptr);

  // The attach arrives while the runner is still starting up; it waits for Open().
  absl::StatusOr<workerproto::RunnerSession*> attached;
  std::thread handler([&] {
    attached = slot.Attach(&first);
    if (attached.ok()) slot.Detach(7, "");
  });
  slot.Open(nullptr);
  ASSERT_EQ(slot.WaitForAttach(), &first);

  // While one worker is attached, another is refused.
  absl::StatusOr<workerproto::RunnerSession*> refused = slot.Attach(&second);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("already attached"));

  slot.BeginConversation(&session);
  AttachedWorkerSlot::Ending ending = slot.WaitForEnd();
  EXPECT_TRUE(ending.reported);
  EXPECT_EQ(ending.exit_status, 7);
  slot.Finish();
  handler.join();
  ASSERT_TRUE(attached.ok());
  EXPECT_EQ(*attached, &session);

  // After the worker has gone, and after the runner closes the slot at exit, still refused.
  slot.Close("the runner is exiting");
  absl::StatusOr<workerproto::RunnerSession*> late = slot.Attach(&second);
  ASSERT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.status().message(), HasSubstr("already ended"));
}

TEST(AttachedWorkerSlotTest, StreamEndingWithoutAStatusIsMarkedUnreported) {
  AttachedWorkerSlot slot(Worker("external"));
  FakeChannel channel;
  workerproto::RunnerSession session(workerproto::Capabilities::RunnerDefaults(), &channel,
                                     nullptr);
  slot.Open(nullptr);
  std::thread handler([&] {
    if (slot.Attach(&channel).ok()) slot.Detach(std::nullopt, "");
  });
  ASSERT_EQ(slot.WaitForAttach(), &channel);
  slot.BeginConversation(&session);
  AttachedWorkerSlot::Ending ending = slot.WaitForEnd();
  slot.Finish();
  handler.join();
  EXPECT_FALSE(ending.reported);
  EXPECT_EQ(ending.exit_status, kLostWorkerStatus);
}

TEST(AttachedWorkerSlotTest, CloseReleasesTheRunAndWaitingAttaches) {
  AttachedWorkerSlot slot(Worker("external"));
  FakeChannel channel;
  absl::StatusOr<workerproto::RunnerSession*> attached;
  absl::Notification returned;
  std::thread handler([&] {
    attached = slot.Attach(&channel);
    returned.Notify();
  });
  // The run failed during start-up: it never opens the slot.
  slot.Close("the runner is exiting");
  handler.join();
  ASSERT_TRUE(returned.HasBeenNotified());
  ASSERT_EQ(attached.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(attached.status().message(), HasSubstr("the runner is exiting"));
  EXPECT_EQ(slot.WaitForAttach(), nullptr);
  EXPECT_EQ(slot.closed_reason(), "the runner is exiting");
}

TEST(AttachedWorkerSlotTest, StartedReportReachesTheRun) {
  AttachedWorkerSlot slot(Worker("external"));
  int64_t seen_pid = 0;
  std::string seen_program;
  slot.Open([&](int64_t pid, const std::string& program) {
    seen_pid = pid;
    seen_program = program;
  });
  slot.WorkerStarted(99, "/bin/worker");
  EXPECT_EQ(seen_pid, 99);
  EXPECT_EQ(seen_program, "/bin/worker");
}

TEST(ExternalWorkerTest, StartsNothingAndSaysTheWorkerAttaches) {
  absl::StatusOr<std::unique_ptr<WorkerImpl>> impl = MakeWorkerImpl(Worker("external"));
  ASSERT_TRUE(impl.ok()) << impl.status();
  EXPECT_EQ((*impl)->name(), "external");
  providers::RunState state;
  EXPECT_TRUE((*impl)->ConfigureRun(&state).ok());
  absl::StatusOr<StartedWorker> started = (*impl)->Start(state);
  ASSERT_TRUE(started.ok());
  EXPECT_TRUE(started->attaches);
  EXPECT_EQ(started->process, nullptr);
}

}  // namespace
}  // namespace runner::lifecycle
