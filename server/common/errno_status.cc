#include "server/common/errno_status.h"

#include <errno.h>
#include <string.h>

#include <cctype>
#include <string>

#include "absl/strings/str_cat.h"

namespace runner::common {
namespace {

absl::StatusCode CodeForErrno(int error_number) {
  switch (error_number) {
    case ENOENT:
    case ENOTDIR:
      return absl::StatusCode::kNotFound;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EINVAL:
    case ELOOP:
    case ENAMETOOLONG:
    case EISDIR:
      return absl::StatusCode::kInvalidArgument;
    case EAGAIN:
    case EINTR:
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
      return absl::StatusCode::kUnavailable;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
      return absl::StatusCode::kResourceExhausted;
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::Status ErrnoToStatus(int error_number, absl::string_view context) {
  char buffer[256];
  // The GNU strerror_r returns the text, which may or may not be in `buffer`.
  std::string text = strerror_r(error_number, buffer, sizeof(buffer));
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return absl::Status(CodeForErrno(error_number), absl::StrCat(context, ": ", text));
}

}  // namespace runner::common
