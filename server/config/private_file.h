#ifndef RUNNER_SERVER_CONFIG_PRIVATE_FILE_H_
#define RUNNER_SERVER_CONFIG_PRIVATE_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace runner::config {

// What ReadPrivateFile found.
struct PrivateFileContents {
  std::string data;
  bool tightened = false;  // the mode had group/other bits and was changed to 0600
};

// Reads a file that may hold secrets, making it owner-only first (POSIX). Symlinks at `path`,
// FIFOs, sockets and devices are refused, and the open never blocks. A mode without group/other
// bits is left alone; otherwise a file owned by the current user is changed to 0600 (a warning is
// logged) and one owned by someone else is refused. The content is read through the same
// descriptor after checking once more that the file is owner-only, owned by us and owner-readable.
// Messages read "read <label> <path>: <cause>". Errors: kNotFound when the file does not exist,
// kPermissionDenied when it belongs to another user or cannot be opened, kFailedPrecondition when
// it is not a regular owner-readable file (or is too large), other codes from failed system calls.
// Blocks on file I/O only. Thread-compatible.
absl::StatusOr<PrivateFileContents> ReadPrivateFile(const std::string& path,
                                                    absl::string_view label);

// The largest file ReadPrivateFile accepts; configuration files are far smaller.
inline constexpr size_t kMaxPrivateFileSize = 16 * 1024 * 1024;

}  // namespace runner::config

#endif  // RUNNER_SERVER_CONFIG_PRIVATE_FILE_H_
