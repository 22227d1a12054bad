#include "server/lifecycle/event_log.h"

#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "server/lifecycle/run_status.h"

namespace runner::lifecycle {
namespace {

// Records what it is given; takes at most `limit` events.
class RecordingSubscriber : public EventSubscriber {
 public:
  explicit RecordingSubscriber(size_t limit = 1000) : limit_(limit) {}
  bool Push(std::shared_ptr<const Event> event) override {
    if (events.size() >= limit_) return false;
    events.push_back(*event);
    return true;
  }
  void Wake() override { ++wakes; }
  void Closed() override { closed = true; }

  std::vector<uint64_t> Sequences() const {
    std::vector<uint64_t> out;
    for (const Event& event : events) out.push_back(event.sequence);
    return out;
  }

  std::vector<Event> events;
  int wakes = 0;
  bool closed = false;

 private:
  size_t limit_;
};

Event OfKind(EventKind kind) {
  Event event;
  event.kind = kind;
  return event;
}

TEST(EventLogTest, NumbersEventsAndReplaysThoseAfterSince) {
  EventLog log(10);
  for (int i = 0; i < 5; ++i) log.Publish(OfKind(EventKind::kErrorReport));
  EXPECT_EQ(log.last_sequence(), 5u);

  auto all = std::make_shared<RecordingSubscriber>();
  ASSERT_EQ(log.Subscribe(all, std::nullopt, /*follow=*/false).value(), 5u);
  EXPECT_THAT(all->Sequences(), ::testing::ElementsAre(1, 2, 3, 4, 5));

  auto resumed = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(log.Subscribe(resumed, 3, /*follow=*/false).ok());
  EXPECT_THAT(resumed->Sequences(), ::testing::ElementsAre(4, 5));
  EXPECT_EQ(log.follower_count(), 0u);
}

TEST(EventLogTest, ResumingFromAnEvictedSequenceIsOutOfRange) {
  // Ring of 3: after 6 events only 4..6 are kept, so "after 2" misses event 3.
  EventLog log(3);
  for (int i = 0; i < 6; ++i) log.Publish(OfKind(EventKind::kErrorReport));
  auto subscriber = std::make_shared<RecordingSubscriber>();
  auto lost = log.Subscribe(subscriber, 2, /*follow=*/true);
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(lost.status().message()), ::testing::HasSubstr("oldest kept is 4"));
  EXPECT_TRUE(subscriber->events.empty());
  EXPECT_EQ(log.follower_count(), 0u);

  // "After 3" is exactly the oldest kept: fine.
  ASSERT_TRUE(log.Subscribe(subscriber, 3, /*follow=*/false).ok());
  EXPECT_THAT(subscriber->Sequences(), ::testing::ElementsAre(4, 5, 6));

  // A sequence from the future (another runner's) is refused too.
  EXPECT_EQ(log.Subscribe(subscriber, 99, false).status().code(), absl::StatusCode::kOutOfRange);
}

TEST(EventLogTest, FollowerGetsNewEventsAndIsDroppedWhenItCannotTakeMore) {
  EventLog log(10);
  auto fast = std::make_shared<RecordingSubscriber>();
  auto slow = std::make_shared<RecordingSubscriber>(/*limit=*/2);
  ASSERT_TRUE(log.Subscribe(fast, std::nullopt, true).ok());
  ASSERT_TRUE(log.Subscribe(slow, std::nullopt, true).ok());
  EXPECT_EQ(log.follower_count(), 2u);

  for (int i = 0; i < 4; ++i) log.Publish(OfKind(EventKind::kWorkerState));
  EXPECT_EQ(fast->events.size(), 4u);
  EXPECT_EQ(slow->events.size(), 2u);
  EXPECT_EQ(log.follower_count(), 1u);
  // The dropped one is still woken once more, to end its stream.
  EXPECT_EQ(slow->wakes, 3);
}

TEST(EventLogTest, CloseSendsTheFinalEventAndEndsFollowers) {
  EventLog log(10);
  auto follower = std::make_shared<RecordingSubscriber>();
  ASSERT_TRUE(log.Subscribe(follower, std::nullopt, true).ok());
  log.Close();
  ASSERT_EQ(follower->events.size(), 1u);
  EXPECT_EQ(follower->events[0].kind, EventKind::kRunnerStopping);
  EXPECT_TRUE(follower->closed);
  EXPECT_EQ(log.follower_count(), 0u);
  log.Close();  // idempotent
  EXPECT_EQ(log.last_sequence(), 1u);

  auto late = std::make_shared<RecordingSubscriber>();
  EXPECT_EQ(log.Subscribe(late, std::nullopt, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(log.Subscribe(late, std::nullopt, false).ok());
}

TEST(RunStatusEventsTest, SettersPublishAndSubscribeAgreesWithTheSnapshot) {
  RunStatus status("1.0", absl::Now());
  status.SetPhase(RunPhase::kStartingWorker);
  status.SetPhase(RunPhase::kStartingWorker);  // no change, no event
  status.SetWorkerStarted(42);
  status.SetNegotiated({"log"});
  providers::Interruption advisory{"aws", "rebalance-recommendation", std::nullopt, false};
  status.RecordInterruption(advisory, absl::Now());
  status.SetCredentialsExpire(absl::FromUnixSeconds(2000000000));
  status.PublishErrorReport("worker-error", "disk full", "no space left");
  status.PublishShutdownRequest();
  status.PublishDrain(true, DrainOutcome::kSent, 1000);
  status.SetWorkerExited(0);

  auto subscriber = std::make_shared<RecordingSubscriber>();
  auto subscribed = status.Subscribe(subscriber, std::nullopt, false);
  ASSERT_TRUE(subscribed.ok());
  EXPECT_EQ(subscribed->second, 9u);
  EXPECT_TRUE(subscribed->first.worker_exited);
  // An advisory notice is an event, and shows in the status until a terminating one replaces it.
  ASSERT_TRUE(subscribed->first.interruption.has_value());
  EXPECT_EQ(subscribed->first.interruption->kind, "rebalance-recommendation");
  EXPECT_FALSE(subscribed->first.interruption->terminates);

  std::vector<EventKind> kinds;
  for (const Event& event : subscriber->events) kinds.push_back(event.kind);
  EXPECT_THAT(kinds, ::testing::ElementsAre(
                         EventKind::kRunnerState, EventKind::kWorkerState, EventKind::kWorkerState,
                         EventKind::kAdvisory, EventKind::kCredentials, EventKind::kErrorReport,
                         EventKind::kShutdownRequest, EventKind::kDrain, EventKind::kWorkerState));
  EXPECT_EQ(subscriber->events[1].pid, 42);
  EXPECT_EQ(subscriber->events[2].capabilities, std::vector<std::string>{"log"});
  EXPECT_EQ(subscriber->events[7].caller_uid, 1000u);
  EXPECT_EQ(subscriber->events[8].worker_change, WorkerChange::kExited);
  EXPECT_EQ(subscriber->events[8].pid, 42);
}

}  // namespace
}  // namespace runner::lifecycle
