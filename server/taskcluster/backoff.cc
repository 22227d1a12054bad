#include "server/taskcluster/backoff.h"

#include <algorithm>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"

namespace runner::taskcluster {
namespace {

class RealRandomSource : public RandomSource {
 public:
  RealRandomSource() : engine_(std::random_device{}()) {}

  double Uniform() override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  absl::Mutex mu_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mu_);
};

class RealSleeper : public Sleeper {
 public:
  void Sleep(absl::Duration duration) override { absl::SleepFor(duration); }
};

}  // namespace

RandomSource* RandomSource::Real() {
  static RandomSource* source = new RealRandomSource();
  return source;
}

Sleeper* Sleeper::Real() {
  static Sleeper* sleeper = new RealSleeper();
  return sleeper;
}

Backoff::Backoff(const BackoffPolicy& policy, const common::Clock* clock, RandomSource* random)
    : policy_(policy),
      clock_(clock),
      random_(random),
      start_(clock->Now()),
      interval_(std::min(policy.initial_interval, policy.max_interval)) {}

std::optional<absl::Duration> Backoff::NextDelay() {
  if (elapsed() >= policy_.max_elapsed) return std::nullopt;

  double u = std::clamp(random_->Uniform(), 0.0, 1.0);
  double factor = 1.0 - policy_.randomization + 2.0 * policy_.randomization * u;
  absl::Duration delay = interval_ * factor;
  at_ceiling_ = interval_ >= policy_.max_interval;

  interval_ = std::min(interval_ * policy_.multiplier, policy_.max_interval);
  return delay;
}

}  // namespace runner::taskcluster
