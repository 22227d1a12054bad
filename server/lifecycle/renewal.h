#ifndef RUNNER_SERVER_LIFECYCLE_RENEWAL_H_
#define RUNNER_SERVER_LIFECYCLE_RENEWAL_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/common/clock.h"

namespace runner::lifecycle {

// How long after now to renew credentials that have `remaining` left: 30 minutes before expiry,
// but not sooner than 5 minutes from now, and never later than 30 s before expiry (0 when that
// has passed).
absl::Duration RenewalDelay(absl::Duration remaining);

// What the renewal thread asks of the run. Called on the renewal thread only, never with a
// renewal lock held; each call may block on I/O.
class RenewalDelegate {
 public:
  virtual ~RenewalDelegate() = default;

  enum class Path {
    kRenew,      // the worker takes new-credentials: reregister and send them
    kTerminate,  // it takes only graceful-termination: ask it to stop instead
    kNone,       // it takes neither: the credentials will lapse
    kStopped,    // the run is ending; give up quietly
  };
  // Waits for protocol negotiation and says which way to go.
  virtual Path ChoosePath() = 0;

  // reregisterWorker with the current credentials and last secret; on success stores the new
  // credentials everywhere they live (run state, worker, config file, cache) and returns their
  // expiry.
  virtual absl::StatusOr<absl::Time> Renew() = 0;

  // Asks the worker to stop (graceful-termination, finish-tasks false); `why` is logged.
  virtual void Terminate(absl::string_view why) = 0;
};

struct RenewalOptions {
  const common::Clock* clock = common::Clock::Real();  // not owned
  // The longest single sleep: the wall clock is re-read at least this often, so a host that was
  // suspended renews soon after it wakes.
  absl::Duration slice = absl::Minutes(1);
  // Waits between failed renewal attempts: doubling from the first, capped at the second.
  absl::Duration retry_initial = absl::Seconds(30);
  absl::Duration retry_max = absl::Minutes(5);
  // Retries stop when the next attempt would come later than this before expiry.
  absl::Duration give_up_before_expiry = absl::Seconds(30);
};

// Renews the worker's credentials on the schedule of RenewalDelay, on its own thread, for as
// long as it runs. Start/Stop from one thread (the run's main thread); the destructor stops and
// joins. Never holds its lock across a delegate call.
class CredentialRenewal {
 public:
  // `delegate` is not owned and must outlive Stop().
  CredentialRenewal(RenewalDelegate* delegate, RenewalOptions options = {});
  ~CredentialRenewal();
  CredentialRenewal(const CredentialRenewal&) = delete;
  CredentialRenewal& operator=(const CredentialRenewal&) = delete;

  // Starts the thread for credentials expiring at `expiry`. Call at most once.
  void Start(absl::Time expiry) ABSL_LOCKS_EXCLUDED(mu_);
  // Wakes and joins the thread; a delegate call in progress is waited for (the delegate should
  // make its own calls end early when the run ends). Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Times the thread has renewed successfully (for tests and status).
  int renewals() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits up to `timeout` until the thread has begun its `count`-th wait for a time on the clock
  // and is still in it (tests that move a manual clock do so only then).
  bool WaitUntilAsleep(int count, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop(absl::Time expiry);
  // Sleeps until the clock reaches `target`, in slices; false when stopped.
  bool SleepUntil(absl::Time target) ABSL_LOCKS_EXCLUDED(mu_);

  RenewalDelegate* const delegate_;  // not owned
  const RenewalOptions options_;

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool asleep_ ABSL_GUARDED_BY(mu_) = false;
  int sleeps_ ABSL_GUARDED_BY(mu_) = 0;
  int renewals_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // Start/Stop thread only
};

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_RENEWAL_H_
