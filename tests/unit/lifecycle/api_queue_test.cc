#include "server/lifecycle/api_queue.h"

#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace runner::lifecycle {
namespace {

TEST(ApiQueueTest, RunsWorkInOrderOffTheCallersThread) {
  ApiQueue queue;
  absl::Mutex mu;
  std::vector<int> order;
  std::thread::id caller = std::this_thread::get_id();
  bool other_thread = true;
  for (int i = 0; i < 5; ++i) {
    queue.Post("item", [&, i] {
      absl::MutexLock lock(&mu);
      order.push_back(i);
      other_thread = other_thread && std::this_thread::get_id() != caller;
    });
  }
  queue.Stop(absl::Seconds(10));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(other_thread);
}

TEST(ApiQueueTest, PostReturnsAtOnceWhileEarlierWorkBlocks) {
  ApiQueue queue;
  absl::Notification release, ran_second;
  queue.Post("slow", [&] { release.WaitForNotification(); });
  EXPECT_TRUE(queue.Post("second", [&] { ran_second.Notify(); }));
  EXPECT_FALSE(ran_second.HasBeenNotified());
  release.Notify();
  EXPECT_TRUE(ran_second.WaitForNotificationWithTimeout(absl::Seconds(10)));
  queue.Stop(absl::Seconds(10));
}

TEST(ApiQueueTest, StopDropsWorkThatDidNotStartInTime) {
  ApiQueue queue;
  absl::Notification release;
  bool second_ran = false;
  queue.Post("slow", [&] { release.WaitForNotification(); });
  queue.Post("never", [&] { second_ran = true; });
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(100));
    release.Notify();
  });
  queue.Stop(absl::Milliseconds(10));
  releaser.join();
  EXPECT_FALSE(second_ran);
  EXPECT_FALSE(queue.Post("after stop", [] {}));
}

TEST(ApiQueueTest, RefusesWorkBeyondTheLimit) {
  ApiQueue queue;
  absl::Notification release;
  queue.Post("blocker", [&] { release.WaitForNotification(); });
  int accepted = 0;
  for (size_t i = 0; i < ApiQueue::kMaxPending + 10; ++i) {
    if (queue.Post("filler", [] {})) ++accepted;
  }
  EXPECT_LE(accepted, static_cast<int>(ApiQueue::kMaxPending));
  EXPECT_GE(accepted, static_cast<int>(ApiQueue::kMaxPending) - 1);
  release.Notify();
  queue.Stop(absl::Seconds(10));
}

}  // namespace
}  // namespace runner::lifecycle
