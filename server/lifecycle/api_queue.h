#ifndef RUNNER_SERVER_LIFECYCLE_API_QUEUE_H_
#define RUNNER_SERVER_LIFECYCLE_API_QUEUE_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace runner::lifecycle {

// Runs network work that the worker's messages ask for (error reports, deregistration) on one
// background thread, in arrival order, so the thread reading the worker's output never waits for
// the network. Thread-safe.
class ApiQueue {
 public:
  static constexpr size_t kMaxPending = 100;

  ApiQueue();
  ~ApiQueue();  // Stop(absl::ZeroDuration())
  ApiQueue(const ApiQueue&) = delete;
  ApiQueue& operator=(const ApiQueue&) = delete;

  // Queues `work`, described by `what` for the log. False (and logged) when stopped or when
  // kMaxPending items already wait.
  bool Post(std::string what, std::function<void()> work) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits up to `timeout` for the queue to empty and the running item to finish; true when it
  // did.
  bool Drain(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // Lets queued work run for up to `timeout`, then drops what has not started (logged) and joins
  // the thread. Work already running is waited for: each item is bounded by the client's own
  // retry budget. Idempotent.
  void Stop(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Item {
    std::string what;
    std::function<void()> work;
  };
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<Item> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_API_QUEUE_H_
