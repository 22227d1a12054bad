#include "server/config/private_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "server/common/errno_status.h"
#include "server/common/logger.h"
#include "server/common/status_util.h"

namespace runner::config {
namespace {

constexpr mode_t kGroupOtherBits = S_IRWXG | S_IRWXO;
constexpr mode_t kPrivateMode = S_IRUSR | S_IWUSR;

// Closes the descriptor when it goes out of scope.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string OctalMode(mode_t mode) { return absl::StrFormat("%04o", mode & 07777); }

absl::Status NotRegular(absl::string_view context) {
  return absl::FailedPreconditionError(absl::StrCat(context, ": not a regular file"));
}

absl::Status NoOwnerRead(absl::string_view context) {
  return absl::FailedPreconditionError(absl::StrCat(context, ": owner-read bit must be set"));
}

// The open failed with `error_number`. A plain errno text would hide the usual causes (a symlink
// gives "too many levels of symbolic links", a socket "no such device or address", a 0200 file
// "permission denied"), so look at the path itself to say what is wrong with it.
absl::Status ExplainOpenFailure(int error_number, const std::string& path,
                                absl::string_view context) {
  struct stat st;
  if (error_number != ENOENT && lstat(path.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": is a symbolic link, which is not followed"));
    }
    if (!S_ISREG(st.st_mode)) return NotRegular(context);
    if (st.st_uid == geteuid() && (st.st_mode & S_IRUSR) == 0) return NoOwnerRead(context);
  }
  return common::ErrnoToStatus(error_number, context);
}

// The state every file must be in before it is read.
absl::Status CheckPrivate(const struct stat& st, absl::string_view context) {
  if (st.st_uid != geteuid()) {
    return absl::PermissionDeniedError(absl::StrCat(context, ": owned by another user"));
  }
  if ((st.st_mode & kGroupOtherBits) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(context, ": mode ", OctalMode(st.st_mode),
                                                      " gives access to group or others"));
  }
  if ((st.st_mode & S_IRUSR) == 0) return NoOwnerRead(context);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadAll(int fd, absl::string_view context) {
  std::string data;
  char buffer[64 * 1024];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return common::ErrnoToStatus(errno, context);
    }
    if (n == 0) return data;
    if (data.size() + static_cast<size_t>(n) > kMaxPrivateFileSize) {
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": larger than ", kMaxPrivateFileSize, " bytes"));
    }
    data.append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

absl::StatusOr<PrivateFileContents> ReadPrivateFile(const std::string& path,
                                                    absl::string_view label) {
  const std::string context = absl::StrCat("read ", label, " ", path);

  // O_NOFOLLOW refuses a symlink at the path; O_NONBLOCK keeps a FIFO from hanging the open.
  ScopedFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return ExplainOpenFailure(errno, path, context);

  struct stat st;
  if (fstat(fd.get(), &st) != 0) return common::ErrnoToStatus(errno, context);
  if (!S_ISREG(st.st_mode)) return NotRegular(context);
  if ((st.st_mode & S_IRUSR) == 0) return NoOwnerRead(context);

  // Only a file that others can reach is changed; an owner-only mode (0400, 0700) is kept.
  PrivateFileContents contents;
  if ((st.st_mode & kGroupOtherBits) != 0) {
    if (st.st_uid != geteuid()) {
      return absl::PermissionDeniedError(
          absl::StrCat(context, ": mode ", OctalMode(st.st_mode),
                       " gives access to group or others and the file is owned by another user"));
    }
    if (fchmod(fd.get(), kPrivateMode) != 0) {
      return common::ErrnoToStatus(errno, absl::StrCat(context, ": change mode to 0600"));
    }
    common::LogWarning("config", absl::StrCat("tightened permissions of ", label),
                       {{"file", path}, {"old_mode", OctalMode(st.st_mode)}, {"new_mode", "0600"}});
    contents.tightened = true;
    if (fstat(fd.get(), &st) != 0) return common::ErrnoToStatus(errno, context);
  }

  // Checked again on the descriptor that is read, so the file cannot be swapped in between.
  RUNNER_RETURN_IF_ERROR(CheckPrivate(st, context));
  RUNNER_ASSIGN_OR_RETURN(contents.data, ReadAll(fd.get(), context));
  return contents;
}

}  // namespace runner::config
