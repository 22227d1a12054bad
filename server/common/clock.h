#ifndef RUNNER_SERVER_COMMON_CLOCK_H_
#define RUNNER_SERVER_COMMON_CLOCK_H_

#include "absl/time/time.h"

namespace runner::common {

// Wall-clock time, behind an interface so tests can run schedules exactly. Implementations are
// thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The real clock; never destroyed.
  static Clock* Real();
};

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_CLOCK_H_
