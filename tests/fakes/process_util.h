#ifndef RUNNER_TESTS_FAKES_PROCESS_UTIL_H_
#define RUNNER_TESTS_FAKES_PROCESS_UTIL_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace runner::test_support {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& content, int mode = 0600);
std::string ReadFile(const std::string& path);  // empty when missing
bool PathExists(const std::string& path);
int FileMode(const std::string& path);  // permission bits, -1 when missing

// Starts `argv` with the test's environment plus `extra_env` ("NAME=value"), stdin from
// /dev/null, stdout and stderr into the given files ("" for /dev/null).
pid_t StartProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                   const std::string& stdout_path, const std::string& stderr_path);

// Waits up to `timeout` for `pid` to exit and reaps it; its exit code, 128+signal when killed,
// nullopt when it still runs.
std::optional<int> WaitProcess(pid_t pid, absl::Duration timeout);

// Kills (SIGKILL) and reaps `pid` if it still runs.
void KillProcess(pid_t pid);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `argv` to completion (killed after `timeout`) and captures its output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {},
                         absl::Duration timeout = absl::Seconds(20));

// Waits until `path` exists, at most `timeout` (watches its directory with inotify).
bool WaitForPath(const std::string& path, absl::Duration timeout);

// Waits until `predicate` holds for the content of `path`, re-reading it whenever the file
// changes, at most `timeout`.
bool WaitForFileContent(const std::string& path, absl::Duration timeout,
                        bool (*predicate)(const std::string& content, const void* arg),
                        const void* arg);
bool WaitForFileToContain(const std::string& path, const std::string& needle,
                          absl::Duration timeout);

}  // namespace runner::test_support

#endif  // RUNNER_TESTS_FAKES_PROCESS_UTIL_H_
