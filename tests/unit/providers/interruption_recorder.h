#ifndef RUNNER_TESTS_UNIT_PROVIDERS_INTERRUPTION_RECORDER_H_
#define RUNNER_TESTS_UNIT_PROVIDERS_INTERRUPTION_RECORDER_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/providers/provider.h"

namespace runner::providers {

// An InterruptionSink that keeps every notice. Thread-safe.
class InterruptionRecorder : public InterruptionSink {
 public:
  void OnInterruption(const Interruption& interruption) override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    seen_.push_back(interruption);
  }

  std::vector<Interruption> seen() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

  // Waits until at least `count` notices arrived; false on timeout.
  bool WaitFor(size_t count, absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return seen_.size() >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Interruption> seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace runner::providers

#endif  // RUNNER_TESTS_UNIT_PROVIDERS_INTERRUPTION_RECORDER_H_
