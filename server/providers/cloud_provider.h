#ifndef RUNNER_SERVER_PROVIDERS_CLOUD_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_CLOUD_PROVIDER_H_

#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/providers/provider.h"

namespace runner::providers {

// Logs a watcher's failures as warnings, at most one line per `interval`; the line counts the
// failures it stands for. Thread-compatible (one watcher thread uses it).
class ThrottledFailureLog {
 public:
  ThrottledFailureLog(absl::string_view component, const common::Clock* clock,
                      absl::Duration interval);

  void Failure(absl::string_view event, const absl::Status& status);

 private:
  std::string component_;
  const common::Clock* clock_;  // not owned
  absl::Duration interval_;
  std::optional<absl::Time> last_logged_;
  int unlogged_ = 0;
};

// What the dynamically provisioned clouds (aws, google, azure) share: workers are created and
// removed by worker-manager, and an interruption watch runs on the provider's own thread from
// StartWatching until StopWatching. Subclasses implement Watch(); `stop()` is cancelled when the
// watch must end and should also be given to their metadata client, so a request in flight is
// aborted. StartWatching/StopWatching come from one thread; Watch runs on the watcher thread.
class CloudProvider : public Provider {
 public:
  ~CloudProvider() override;  // subclasses call StopWatching() in their own destructors

  bool dynamically_provisioned() const final { return true; }
  // Starts the watcher thread. kFailedPrecondition when called twice.
  absl::Status StartWatching(InterruptionSink* sink) final ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels stop() and joins the watcher; returns within about a second even while a metadata
  // request is in flight. Idempotent.
  void StopWatching() final ABSL_LOCKS_EXCLUDED(mu_);

 protected:
  CloudProvider() = default;

  // The watch loop. Runs on the watcher thread until it returns or `stop()` is cancelled.
  virtual void Watch(InterruptionSink* sink) = 0;

  const common::Cancellation& stop() const { return stop_; }
  const common::Cancellation* stop_ptr() const { return &stop_; }

 private:
  common::Cancellation stop_;
  absl::Mutex mu_;
  std::thread watcher_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

// rootURL from cloud user data with any trailing '/' removed ("https://tc.example.com/" →
// "https://tc.example.com").
std::string NormalizeRootUrl(absl::string_view root_url);

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_CLOUD_PROVIDER_H_
