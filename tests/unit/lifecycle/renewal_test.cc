#include "server/lifecycle/renewal.h"

#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

#include "tests/fakes/log_capture.h"

namespace runner::lifecycle {
namespace {

// A wall clock that moves only when told to. Thread-safe.
class ManualClock : public common::Clock {
 public:
  explicit ManualClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// Records the renewal thread's calls; answers from a script.
class ScriptedDelegate : public RenewalDelegate {
 public:
  explicit ScriptedDelegate(const ManualClock* clock) : clock_(clock) {}

  Path ChoosePath() override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("choose@" + Stamp());
    return path_;
  }
  absl::StatusOr<absl::Time> Renew() override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("renew@" + Stamp());
    if (!results_.empty()) {
      absl::StatusOr<absl::Time> result = results_.front();
      results_.pop_front();
      return result;
    }
    return absl::UnavailableError("no scripted answer");
  }
  void Terminate(absl::string_view /*why*/) override {
    absl::MutexLock lock(&mu_);
    calls_.push_back("terminate@" + Stamp());
  }

  void SetPath(Path path) {
    absl::MutexLock lock(&mu_);
    path_ = path;
  }
  void AddResult(absl::StatusOr<absl::Time> result) {
    absl::MutexLock lock(&mu_);
    results_.push_back(result);
  }
  std::vector<std::string> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Waits until `count` calls were made (or 10 s passed).
  bool WaitForCalls(size_t count) const {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }

 private:
  // Seconds since the test's start, as the delegate saw the clock.
  std::string Stamp() const {
    return std::to_string(absl::ToInt64Seconds(clock_->Now() - absl::FromUnixSeconds(1000000)));
  }

  const ManualClock* clock_;
  mutable absl::Mutex mu_;
  Path path_ ABSL_GUARDED_BY(mu_) = Path::kRenew;
  std::deque<absl::StatusOr<absl::Time>> results_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

const absl::Time kStart = absl::FromUnixSeconds(1000000);

TEST(RenewalDelayTest, FollowsTheSchedule) {
  EXPECT_EQ(RenewalDelay(absl::Minutes(90)), absl::Minutes(60));
  EXPECT_EQ(RenewalDelay(absl::Minutes(31)), absl::Minutes(5));
  EXPECT_EQ(RenewalDelay(absl::Minutes(20)), absl::Minutes(5));
  EXPECT_EQ(RenewalDelay(absl::Seconds(240)), absl::Seconds(210));
  EXPECT_EQ(RenewalDelay(absl::Seconds(30)), absl::ZeroDuration());
  EXPECT_EQ(RenewalDelay(absl::ZeroDuration()), absl::ZeroDuration());
  EXPECT_EQ(RenewalDelay(absl::Seconds(-10)), absl::ZeroDuration());
  EXPECT_EQ(RenewalDelay(absl::Hours(96)), absl::Hours(96) - absl::Minutes(30));
}

class CredentialRenewalTest : public ::testing::Test {
 protected:
  RenewalOptions Options() {
    RenewalOptions options;
    options.clock = &clock_;
    options.slice = absl::Milliseconds(5);  // re-read the manual clock often
    options.retry_initial = absl::Seconds(30);
    options.retry_max = absl::Minutes(2);
    return options;
  }

  // Once the thread sleeps for the `sleeps`-th time, moves the clock by `step`.
  void AdvanceWhenAsleep(CredentialRenewal* renewal, int sleeps, absl::Duration step) {
    ASSERT_TRUE(renewal->WaitUntilAsleep(sleeps, absl::Seconds(10))) << "sleep " << sleeps;
    clock_.Advance(step);
  }

  ManualClock clock_{kStart};
  ScriptedDelegate delegate_{&clock_};
};

TEST_F(CredentialRenewalTest, RenewsAtTheScheduledWallClockTimeAndReArms) {
  delegate_.AddResult(kStart + absl::Minutes(150));  // first renewal at +60 min
  CredentialRenewal renewal(&delegate_, Options());
  renewal.Start(kStart + absl::Minutes(90));

  // Nothing before the target time: still asleep after most of the wait.
  AdvanceWhenAsleep(&renewal, 1, absl::Minutes(59));
  ASSERT_TRUE(renewal.WaitUntilAsleep(1, absl::Seconds(10)));
  EXPECT_TRUE(delegate_.calls().empty());

  // A jump of the wall clock (a suspended host waking up) is noticed within a slice.
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(delegate_.WaitForCalls(2));
  EXPECT_EQ(delegate_.calls(), (std::vector<std::string>{"choose@3600", "renew@3600"}));

  // Re-armed from the new expiry: 150 - 30 = 120 min.
  delegate_.AddResult(kStart + absl::Minutes(300));
  AdvanceWhenAsleep(&renewal, 2, absl::Minutes(59));
  ASSERT_TRUE(renewal.WaitUntilAsleep(2, absl::Seconds(10)));
  EXPECT_EQ(delegate_.calls().size(), 2u);
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(delegate_.WaitForCalls(4));
  EXPECT_EQ(delegate_.calls()[3], "renew@7200");
  EXPECT_TRUE(renewal.WaitUntilAsleep(3, absl::Seconds(10)));
  EXPECT_EQ(renewal.renewals(), 2);
  renewal.Stop();
}

TEST_F(CredentialRenewalTest, RetriesWithBackoffThenTerminatesBeforeExpiry) {
  test_support::LogCapture logs;
  // Expiry at +40 min (2400 s): renewal at +10 min; every attempt fails. Retries wait 30 s, 60 s,
  // then 120 s (the cap) until the next attempt would come later than expiry - 30 s.
  CredentialRenewal renewal(&delegate_, Options());
  renewal.Start(kStart + absl::Minutes(40));
  AdvanceWhenAsleep(&renewal, 1, absl::Minutes(10));
  std::vector<std::string> expected = {"choose@600", "renew@600"};
  int now = 600;
  absl::Duration wait = absl::Seconds(30);
  for (int sleep = 2; now + absl::ToInt64Seconds(wait) < 2400 - 30; ++sleep) {
    AdvanceWhenAsleep(&renewal, sleep, wait);
    now += absl::ToInt64Seconds(wait);
    expected.push_back("renew@" + std::to_string(now));
    ASSERT_TRUE(delegate_.WaitForCalls(expected.size()));
    wait = std::min(wait * 2, absl::Minutes(2));
  }
  expected.push_back("terminate@" + std::to_string(now));
  ASSERT_TRUE(delegate_.WaitForCalls(expected.size()));
  renewal.Stop();
  EXPECT_EQ(delegate_.calls(), expected);
  EXPECT_EQ(expected[4], "renew@810");
  EXPECT_EQ(logs.LinesContaining("credential renewal failed").size(), expected.size() - 2);
  EXPECT_EQ(renewal.renewals(), 0);
}

TEST_F(CredentialRenewalTest, RecoversWhenARetrySucceeds) {
  delegate_.AddResult(absl::UnavailableError("worker-manager down"));
  delegate_.AddResult(kStart + absl::Hours(10));
  CredentialRenewal renewal(&delegate_, Options());
  renewal.Start(kStart + absl::Minutes(40));
  AdvanceWhenAsleep(&renewal, 1, absl::Minutes(10));
  AdvanceWhenAsleep(&renewal, 2, absl::Seconds(30));
  ASSERT_TRUE(renewal.WaitUntilAsleep(3, absl::Seconds(10)));
  EXPECT_EQ(delegate_.calls(), (std::vector<std::string>{"choose@600", "renew@600", "renew@630"}));
  EXPECT_EQ(renewal.renewals(), 1);
}

TEST_F(CredentialRenewalTest, AsksForTerminationWhenTheWorkerCannotTakeNewCredentials) {
  delegate_.SetPath(RenewalDelegate::Path::kTerminate);
  CredentialRenewal renewal(&delegate_, Options());
  renewal.Start(kStart + absl::Seconds(240));
  AdvanceWhenAsleep(&renewal, 1, absl::Seconds(210));
  ASSERT_TRUE(delegate_.WaitForCalls(2));
  renewal.Stop();
  EXPECT_EQ(delegate_.calls(), (std::vector<std::string>{"choose@210", "terminate@210"}));
}

TEST_F(CredentialRenewalTest, LogsAndLetsCredentialsLapseWhenTheWorkerTakesNeither) {
  test_support::LogCapture logs;
  delegate_.SetPath(RenewalDelegate::Path::kNone);
  CredentialRenewal renewal(&delegate_, Options());
  renewal.Start(kStart + absl::Seconds(30));  // due at once
  ASSERT_TRUE(delegate_.WaitForCalls(1));
  renewal.Stop();
  EXPECT_EQ(delegate_.calls(), (std::vector<std::string>{"choose@0"}));
  EXPECT_EQ(logs.LinesContaining("letting them lapse").size(), 1u);
}

TEST_F(CredentialRenewalTest, StopWakesASleepingThread) {
  CredentialRenewal renewal(&delegate_, Options());
  renewal.Start(kStart + absl::Hours(96));
  ASSERT_TRUE(renewal.WaitUntilAsleep(1, absl::Seconds(10)));
  renewal.Stop();
  EXPECT_TRUE(delegate_.calls().empty());
}

}  // namespace
}  // namespace runner::lifecycle
