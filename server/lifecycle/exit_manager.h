#ifndef RUNNER_SERVER_LIFECYCLE_EXIT_MANAGER_H_
#define RUNNER_SERVER_LIFECYCLE_EXIT_MANAGER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace runner::lifecycle {

// Runs `argv` (looked up on PATH when argv[0] has no '/'), stdin from /dev/null, stdout and
// stderr shared with the runner, and waits up to `timeout` for it. An error when it could not be
// started, exited non-zero or did not finish in time (it is then left running).
absl::Status RunCommand(const std::vector<std::string>& argv, absl::Duration timeout);

// The end of a dynamically provisioned worker: removeWorker at most once per run, however the end
// is reached (the worker's `shutdown` message, its clean exit, or both), and the power-off command
// when removeWorker fails or start-up failed. Thread-safe; a second caller waits for the first
// call to finish.
class ExitManager {
 public:
  // `remove_worker` calls worker-manager with the current credentials. `shutdown_command` is the
  // runner config's shutdown.command. `dynamic` false (static, standalone) makes every call a
  // logged no-op.
  ExitManager(bool dynamic, std::function<absl::Status()> remove_worker,
              std::vector<std::string> shutdown_command,
              absl::Duration command_timeout = absl::Minutes(2));

  // removeWorker once; on failure the shutdown command. Returns the removeWorker result (the
  // first call's, for later callers); OK for workers that are not dynamically provisioned.
  absl::Status RemoveWorker(absl::string_view why) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs the shutdown command at most once (dynamic providers only), e.g. after a fatal
  // start-up error, so the instance does not idle.
  void PowerOff(absl::string_view why) ABSL_LOCKS_EXCLUDED(mu_);

  bool remove_attempted() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void PowerOffLocked(absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const bool dynamic_;
  const std::function<absl::Status()> remove_worker_;
  const std::vector<std::string> shutdown_command_;
  const absl::Duration command_timeout_;

  // Held across the removeWorker call and the command on purpose: they must run once, and a
  // second caller must wait for the outcome. Nothing else takes this lock.
  mutable absl::Mutex mu_;
  bool remove_attempted_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status remove_result_ ABSL_GUARDED_BY(mu_);
  bool powered_off_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_EXIT_MANAGER_H_
