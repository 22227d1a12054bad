#ifndef RUNNER_SERVER_COMMON_STATUS_UTIL_H_
#define RUNNER_SERVER_COMMON_STATUS_UTIL_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Our Abseil has no RETURN_IF_ERROR / ASSIGN_OR_RETURN; these are the project's equivalents.

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RUNNER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::absl::Status runner_status_ = (expr);          \
    if (!runner_status_.ok()) return runner_status_; \
  } while (0)

#define RUNNER_STATUS_CONCAT_INNER_(a, b) a##b
#define RUNNER_STATUS_CONCAT_(a, b) RUNNER_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr); on error returns its status, else moves the value into
// `lhs`, which may be a declaration: RUNNER_ASSIGN_OR_RETURN(auto x, MakeX());
#define RUNNER_ASSIGN_OR_RETURN(lhs, rexpr) \
  RUNNER_ASSIGN_OR_RETURN_IMPL_(RUNNER_STATUS_CONCAT_(runner_statusor_, __LINE__), lhs, rexpr)

#define RUNNER_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

namespace runner::common {

// Returns `status` with "context: " put in front of its message; the code is kept. OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_STATUS_UTIL_H_
