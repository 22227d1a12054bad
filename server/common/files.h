#ifndef RUNNER_SERVER_COMMON_FILES_H_
#define RUNNER_SERVER_COMMON_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace runner::common {

// Replaces `path` with `content` so that readers see either the old file or the whole new one:
// a temporary file in the same directory, created with mode 0600 (so the content is never
// readable by others, not even for a moment), written, fsynced, then renamed over `path`.
// The directory must exist. On failure nothing is left behind and `path` is untouched.
absl::Status WritePrivateFileAtomically(const std::string& path, absl::string_view content);

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_FILES_H_
