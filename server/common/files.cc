#include "server/common/files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"

#include "server/common/errno_status.h"

namespace runner::common {

absl::Status WritePrivateFileAtomically(const std::string& path, absl::string_view content) {
  std::string pattern = absl::StrCat(path, ".tmp-XXXXXX");
  std::vector<char> temp(pattern.begin(), pattern.end());
  temp.push_back('\0');

  // mkstemp creates the file with mode 0600 and O_EXCL.
  int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("write ", path));
  std::string temp_path(temp.data());

  auto fail = [&](int err, absl::string_view step) {
    close(fd);
    unlink(temp_path.c_str());
    return ErrnoToStatus(err, absl::StrCat("write ", path, ": ", step));
  };

  if (fchmod(fd, 0600) != 0) return fail(errno, "chmod");
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(errno, "write");
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) return fail(errno, "fsync");
  if (close(fd) != 0) {
    int err = errno;
    unlink(temp_path.c_str());
    return ErrnoToStatus(err, absl::StrCat("write ", path, ": close"));
  }
  if (rename(temp_path.c_str(), path.c_str()) != 0) {
    int err = errno;
    unlink(temp_path.c_str());
    return ErrnoToStatus(err, absl::StrCat("write ", path, ": rename"));
  }
  return absl::OkStatus();
}

}  // namespace runner::common
