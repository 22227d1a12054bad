#ifndef RUNNER_SERVER_COMMON_CANCELLATION_H_
#define RUNNER_SERVER_COMMON_CANCELLATION_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace runner::common {

// A one-way "stop now" flag that long operations (retry loops, transfers, sleeps) check, so a
// stop request does not wait for a network budget to run out. Thread-safe.
class Cancellation {
 public:
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);
  bool cancelled() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `timeout`; true when cancelled (already, or meanwhile).
  bool WaitForCancel(absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_CANCELLATION_H_
