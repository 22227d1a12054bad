#ifndef RUNNER_SERVER_TASKCLUSTER_BACKOFF_H_
#define RUNNER_SERVER_TASKCLUSTER_BACKOFF_H_

#include <optional>

#include "absl/time/time.h"

#include "server/common/clock.h"

namespace runner::taskcluster {

// A source of uniformly distributed doubles in [0, 1), behind an interface so tests can fix the
// jitter. Implementations are thread-safe.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  virtual double Uniform() = 0;

  // A seeded pseudo-random source; never destroyed.
  static RandomSource* Real();
};

// Blocks the calling thread, behind an interface so tests need not wait. Thread-safe.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void Sleep(absl::Duration duration) = 0;

  // Really sleeps; never destroyed.
  static Sleeper* Real();
};

// The retry schedule of API and metadata calls.
struct BackoffPolicy {
  absl::Duration initial_interval = absl::Milliseconds(500);
  double multiplier = 1.5;
  double randomization = 0.5;  // each delay is drawn from interval * [1 - r, 1 + r)
  absl::Duration max_interval = absl::Seconds(60);  // caps the interval before randomising
  absl::Duration max_elapsed = absl::Minutes(15);   // since the first attempt
};

// Hands out the delays between attempts of one operation: exponential growth, capped, with
// jitter, until the time budget is spent. Not thread-safe: one instance per retry loop.
class Backoff {
 public:
  // `clock` and `random` are not owned and must outlive this object. The budget starts now.
  Backoff(const BackoffPolicy& policy, const common::Clock* clock, RandomSource* random);

  // The delay to wait before the next attempt, or nullopt when the budget since the first attempt
  // is spent (the caller then returns its last error).
  std::optional<absl::Duration> NextDelay();

  // True once a delay handed out was drawn around the capped interval `max_interval`.
  bool at_ceiling() const { return at_ceiling_; }
  absl::Duration elapsed() const { return clock_->Now() - start_; }

 private:
  BackoffPolicy policy_;
  const common::Clock* clock_;  // not owned
  RandomSource* random_;        // not owned
  absl::Time start_;
  absl::Duration interval_;
  bool at_ceiling_ = false;
};

}  // namespace runner::taskcluster

#endif  // RUNNER_SERVER_TASKCLUSTER_BACKOFF_H_
