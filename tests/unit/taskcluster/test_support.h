#ifndef RUNNER_TESTS_UNIT_TASKCLUSTER_TEST_SUPPORT_H_
#define RUNNER_TESTS_UNIT_TASKCLUSTER_TEST_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/common/clock.h"
#include "server/common/logger.h"
#include "server/taskcluster/backoff.h"
#include "tests/fakes/log_capture.h"

namespace runner::taskcluster {

// A clock that moves only when told to. Thread-safe.
class ManualClock : public common::Clock {
 public:
  explicit ManualClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// Always returns the same value.
class FixedRandom : public RandomSource {
 public:
  explicit FixedRandom(double value) : value_(value) {}
  double Uniform() override { return value_; }

 private:
  const double value_;
};

// Instead of sleeping, advances a manual clock and records the requested delays. Thread-safe.
class ClockSleeper : public Sleeper {
 public:
  explicit ClockSleeper(ManualClock* clock) : clock_(clock) {}
  void Sleep(absl::Duration d) override ABSL_LOCKS_EXCLUDED(mu_) {
    clock_->Advance(d);
    absl::MutexLock lock(&mu_);
    delays_.push_back(d);
  }
  std::vector<absl::Duration> delays() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return delays_;
  }

 private:
  ManualClock* clock_;  // not owned
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> delays_ ABSL_GUARDED_BY(mu_);
};

using test_support::LogCapture;

}  // namespace runner::taskcluster

#endif  // RUNNER_TESTS_UNIT_TASKCLUSTER_TEST_SUPPORT_H_
