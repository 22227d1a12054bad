#include "bridge/adapter/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "server/common/errno_status.h"

extern char** environ;

namespace runner::adapter {
namespace {

int OpenPidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#else
  (void)pid;
  return -1;
#endif
}

void CloseIfOpen(int* fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

}  // namespace

int DecodeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(
    const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].empty()) return absl::InvalidArgumentError("spawn: empty command");

  int to_child[2];    // child's stdin
  int from_child[2];  // child's stdout
  if (pipe2(to_child, O_CLOEXEC) != 0) return common::ErrnoToStatus(errno, "spawn: pipe");
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    int err = errno;
    close(to_child[0]);
    close(to_child[1]);
    return common::ErrnoToStatus(err, "spawn: pipe");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);

  // The runner blocks SIGTERM/SIGINT for its signal thread and ignores SIGPIPE; the worker must
  // start with neither, or it could not be stopped and would not die on a broken pipe.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGHUP);
  posix_spawnattr_setsigmask(&attributes, &empty_mask);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(to_child[0]);
  close(from_child[1]);
  if (rc != 0) {
    close(to_child[1]);
    close(from_child[0]);
    return common::ErrnoToStatus(rc, absl::StrCat("start worker ", argv[0]));
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid, to_child[1], from_child[0]));
}

Subprocess::Subprocess(pid_t pid, int stdin_fd, int stdout_fd)
    : pid_(pid), stdin_fd_(stdin_fd), stdout_fd_(stdout_fd), pidfd_(OpenPidfd(pid)) {}

Subprocess::~Subprocess() {
  {
    absl::MutexLock lock(&mu_);
    if (!exit_status_.has_value()) {
      kill(pid_, SIGKILL);
      ReapLocked(/*block=*/true);
    }
  }
  CloseIfOpen(&stdin_fd_);
  CloseIfOpen(&stdout_fd_);
  CloseIfOpen(&pidfd_);
}

int Subprocess::TakeStdinFd() {
  int fd = stdin_fd_;
  stdin_fd_ = -1;
  return fd;
}

int Subprocess::TakeStdoutFd() {
  int fd = stdout_fd_;
  stdout_fd_ = -1;
  return fd;
}

bool Subprocess::ReapLocked(bool block) {
  if (exit_status_.has_value()) return true;
  int wait_status = 0;
  pid_t done;
  do {
    done = waitpid(pid_, &wait_status, block ? 0 : WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == pid_) {
    exit_status_ = DecodeWaitStatus(wait_status);
    return true;
  }
  if (done < 0) {
    // ECHILD: someone else reaped it; nothing more can be learned.
    exit_status_ = 255;
    return true;
  }
  return false;
}

int Subprocess::Wait() {
  // Wait for the exit without reaping, so Signal() never races with pid reuse; then reap under
  // the lock.
  siginfo_t info;
  while (waitid(P_PID, pid_, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  absl::MutexLock lock(&mu_);
  ReapLocked(/*block=*/true);
  return *exit_status_;
}

std::optional<int> Subprocess::WaitFor(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (ReapLocked(/*block=*/false)) return exit_status_;
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    if (pidfd_ >= 0) {
      struct pollfd entry = {pidfd_, POLLIN, 0};
      poll(&entry, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    } else {
      absl::SleepFor(std::min(left, absl::Milliseconds(10)));
    }
  }
}

void Subprocess::Signal(int signal) {
  absl::MutexLock lock(&mu_);
  if (!exit_status_.has_value()) kill(pid_, signal);
}

}  // namespace runner::adapter
