#ifndef RUNNER_BRIDGE_ADAPTER_SUBPROCESS_H_
#define RUNNER_BRIDGE_ADAPTER_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace runner::adapter {

// A child process whose stdin and stdout are pipes to us; stderr is inherited. The child starts
// with default signal dispositions and an empty signal mask, whatever the parent blocks or ignores.
// The destructor kills (SIGKILL) a child that still runs and always reaps it.
// Thread-safe: one thread may Wait() while others Signal().
class Subprocess {
 public:
  // Starts argv[0] (looked up on PATH when it has no '/') with the runner's environment.
  // kNotFound when the program does not exist, kPermissionDenied when it cannot be executed.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(const std::vector<std::string>& argv);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // The parent's ends of the pipes; ownership passes to the caller (-1 after the first call).
  int TakeStdinFd();
  int TakeStdoutFd();

  // Blocks until the child exits and reaps it. Returns its exit code, or 128 + the signal number
  // when a signal killed it. Later calls return the same value.
  int Wait() ABSL_LOCKS_EXCLUDED(mu_);

  // Like Wait() but gives up after `timeout`; nullopt when the child still runs.
  std::optional<int> WaitFor(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // Sends `signal` unless the child has already been reaped (so a reused pid is never hit).
  void Signal(int signal) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Subprocess(pid_t pid, int stdin_fd, int stdout_fd);
  // Reaps the child if it has exited; true once reaped.
  bool ReapLocked(bool block) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const pid_t pid_;
  int stdin_fd_;
  int stdout_fd_;
  int pidfd_;  // for waiting with a timeout; -1 when the kernel has no pidfd_open

  absl::Mutex mu_;
  std::optional<int> exit_status_ ABSL_GUARDED_BY(mu_);
};

// Decodes a waitpid status: the exit code, or 128 + signal number.
int DecodeWaitStatus(int wait_status);

}  // namespace runner::adapter

#endif  // RUNNER_BRIDGE_ADAPTER_SUBPROCESS_H_
