#ifndef RUNNER_CLIENTS_RUNNERCTL_STATUS_FORMAT_H_
#define RUNNER_CLIENTS_RUNNERCTL_STATUS_FORMAT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "proto/runner.pb.h"

namespace runner::runnerctl {

// Human-readable status: one aligned `label: value` per line, times in `zone` with a relative
// duration against `now`.
std::string FormatStatusText(const workerrunner::v1::RunnerStatus& status, absl::Time now,
                             absl::TimeZone zone);

// The protobuf JSON mapping of the status, every field present, indented.
std::string FormatStatusJson(const workerrunner::v1::RunnerStatus& status);

// `text` safe to print on a terminal: control characters (C0, DEL, and the UTF-8 encoded C1
// range, which some terminals obey too) and backslashes become \xNN / \\ escapes, so data from
// the runner (a crafted worker ID) cannot drive the terminal.
std::string Printable(absl::string_view text);

// "3m12s", "2h5m", "45s": a short rendering of a duration for people.
std::string ShortDuration(absl::Duration duration);

}  // namespace runner::runnerctl

#endif  // RUNNER_CLIENTS_RUNNERCTL_STATUS_FORMAT_H_
