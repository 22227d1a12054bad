#include "tests/fakes/process_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/time/clock.h"

extern char** environ;

namespace runner::test_support {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}

std::string Directory(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && base[0] != '\0' ? base : "/tmp") +
                        "/worker-runner-test-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) abort();
  path_ = buffer.data();
}

TempDir::~TempDir() { nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS); }

void WriteFile(const std::string& path, const std::string& content, int mode) {
  unlink(path.c_str());
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) abort();
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n <= 0) abort();
    done += static_cast<size_t>(n);
  }
  fchmod(fd, mode);
  close(fd);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

bool PathExists(const std::string& path) {
  struct stat info;
  return lstat(path.c_str(), &info) == 0;
}

int FileMode(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return -1;
  return info.st_mode & 07777;
}

pid_t StartProcess(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                   const std::string& stdout_path, const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1,
                                   stdout_path.empty() ? "/dev/null" : stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2,
                                   stderr_path.empty() ? "/dev/null" : stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0600);

  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) env_strings.emplace_back(*entry);
  for (const std::string& extra : extra_env) env_strings.push_back(extra);
  std::vector<char*> env;
  for (std::string& entry : env_strings) env.push_back(entry.data());
  env.push_back(nullptr);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::optional<int> WaitProcess(pid_t pid, absl::Duration timeout) {
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  absl::Time deadline = absl::Now() + timeout;
  std::optional<int> result;
  while (true) {
    int status = 0;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      result = DecodeStatus(status);
      break;
    }
    if (done < 0 && errno != EINTR) break;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    struct pollfd entry = {pidfd, POLLIN, 0};
    poll(&entry, pidfd >= 0 ? 1 : 0, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
  if (pidfd >= 0) close(pidfd);
  return result;
}

void KillProcess(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env, absl::Duration timeout) {
  TempDir dir;
  CommandResult result;
  pid_t pid = StartProcess(argv, extra_env, dir.File("out"), dir.File("err"));
  if (pid < 0) return result;
  std::optional<int> code = WaitProcess(pid, timeout);
  if (!code.has_value()) {
    KillProcess(pid);
    code = -1;
  }
  result.exit_code = *code;
  result.out = ReadFile(dir.File("out"));
  result.err = ReadFile(dir.File("err"));
  return result;
}

bool WaitForFileContent(const std::string& path, absl::Duration timeout,
                        bool (*predicate)(const std::string& content, const void* arg),
                        const void* arg) {
  int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  inotify_add_watch(fd, Directory(path).c_str(),
                    IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB);
  absl::Time deadline = absl::Now() + timeout;
  bool ok = false;
  while (true) {
    if (predicate(ReadFile(path), arg)) {
      ok = true;
      break;
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    struct pollfd entry = {fd, POLLIN, 0};
    // Bounded slices, so a change that raced with the read above is seen soon anyway.
    int slice = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 200));
    if (poll(&entry, 1, slice) > 0) {
      char events[4096];
      while (read(fd, events, sizeof(events)) > 0) {
      }
    }
  }
  close(fd);
  return ok;
}

bool WaitForPath(const std::string& path, absl::Duration timeout) {
  return WaitForFileContent(
      path, timeout,
      [](const std::string&, const void* arg) {
        return PathExists(*static_cast<const std::string*>(arg));
      },
      &path);
}

bool WaitForFileToContain(const std::string& path, const std::string& needle,
                          absl::Duration timeout) {
  return WaitForFileContent(
      path, timeout,
      [](const std::string& content, const void* arg) {
        return content.find(*static_cast<const std::string*>(arg)) != std::string::npos;
      },
      &needle);
}

}  // namespace runner::test_support
