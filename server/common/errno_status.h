#ifndef RUNNER_SERVER_COMMON_ERRNO_STATUS_H_
#define RUNNER_SERVER_COMMON_ERRNO_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace runner::common {

// Turns a failed system call's errno into a status whose message is
// "<context>: <lower-case strerror text>", with the code a caller can act on
// (ENOENT -> kNotFound, EACCES/EPERM -> kPermissionDenied, EAGAIN/EINTR -> kUnavailable, ...).
absl::Status ErrnoToStatus(int error_number, absl::string_view context);

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_ERRNO_STATUS_H_
