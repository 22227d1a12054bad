#include "server/lifecycle/exit_manager.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#include "server/common/errno_status.h"
#include "server/common/logger.h"

extern char** environ;

namespace runner::lifecycle {
namespace {

constexpr char kComponent[] = "exit";

}  // namespace

absl::Status RunCommand(const std::vector<std::string>& argv, absl::Duration timeout) {
  if (argv.empty() || argv[0].empty()) return absl::InvalidArgumentError("empty command");
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  // The runner blocks its stop signals in every thread; the command must not inherit that.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int err = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return common::ErrnoToStatus(err, absl::StrCat("start ", argv[0]));

  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
      if (WIFEXITED(status)) {
        return absl::InternalError(
            absl::StrCat(argv[0], " exited with status ", WEXITSTATUS(status)));
      }
      return absl::InternalError(absl::StrCat(argv[0], " was killed by signal ", WTERMSIG(status)));
    }
    if (done < 0 && errno != EINTR) return common::ErrnoToStatus(errno, "wait for command");
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          argv[0], " did not finish within ", absl::FormatDuration(timeout), "; left running"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

ExitManager::ExitManager(bool dynamic, std::function<absl::Status()> remove_worker,
                         std::vector<std::string> shutdown_command, absl::Duration command_timeout)
    : dynamic_(dynamic),
      remove_worker_(std::move(remove_worker)),
      shutdown_command_(std::move(shutdown_command)),
      command_timeout_(command_timeout) {}

absl::Status ExitManager::RemoveWorker(absl::string_view why) {
  if (!dynamic_) {
    common::LogInfo(kComponent, "worker is not dynamically provisioned; not removing it",
                    {{"why", why}});
    return absl::OkStatus();
  }
  absl::MutexLock lock(&mu_);
  if (remove_attempted_) {
    common::LogDebug(kComponent, "removeWorker already done this run", {{"why", why}});
    return remove_result_;
  }
  remove_attempted_ = true;
  common::LogInfo(kComponent, "removing worker from worker-manager", {{"why", why}});
  remove_result_ = remove_worker_();
  if (remove_result_.ok()) {
    common::LogInfo(kComponent, "worker removed from worker-manager");
  } else {
    common::LogError(kComponent, "removeWorker failed; powering off instead",
                     {{"code", absl::StatusCodeToString(remove_result_.code())},
                      {"error", std::string(remove_result_.message())}});
    PowerOffLocked("removeWorker failed");
  }
  return remove_result_;
}

void ExitManager::PowerOff(absl::string_view why) {
  if (!dynamic_) return;
  absl::MutexLock lock(&mu_);
  PowerOffLocked(why);
}

void ExitManager::PowerOffLocked(absl::string_view why) {
  if (powered_off_) return;
  powered_off_ = true;
  common::LogWarning(kComponent, "running shutdown.command",
                     {{"why", why}, {"command", absl::StrJoin(shutdown_command_, " ")}});
  absl::Status ran = RunCommand(shutdown_command_, command_timeout_);
  if (!ran.ok()) {
    common::LogError(kComponent, "shutdown.command failed",
                     {{"error", std::string(ran.message())}});
  }
}

bool ExitManager::remove_attempted() const {
  absl::MutexLock lock(&mu_);
  return remove_attempted_;
}

}  // namespace runner::lifecycle
