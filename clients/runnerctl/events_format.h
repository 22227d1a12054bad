#ifndef RUNNER_CLIENTS_RUNNERCTL_EVENTS_FORMAT_H_
#define RUNNER_CLIENTS_RUNNERCTL_EVENTS_FORMAT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "proto/runner.pb.h"

namespace runner::runnerctl {

// The command-line name of an event kind ("worker-state", "interruption", ...) and back;
// nullopt for an unknown name.
std::string EventKindName(workerrunner::v1::EventKind kind);
std::optional<workerrunner::v1::EventKind> EventKindFromName(absl::string_view name);
// Every name EventKindFromName accepts, comma-separated (for help and errors).
std::string EventKindNames();

// One line per event: sequence, local time with a relative duration against `now`, kind, and
// what happened. Text from the runner is escaped (see Printable).
std::string FormatEventText(const workerrunner::v1::Event& event, absl::Time now,
                            absl::TimeZone zone);
// The protobuf JSON mapping of the event on one line.
std::string FormatEventJson(const workerrunner::v1::Event& event);

// The worker configuration as indented JSON followed by the list of redacted values.
std::string FormatConfigText(const workerrunner::v1::WorkerConfig& config);
std::string FormatConfigJson(const workerrunner::v1::WorkerConfig& config);

std::string FormatDrainText(const workerrunner::v1::DrainResponse& response);
std::string FormatDrainJson(const workerrunner::v1::DrainResponse& response);

}  // namespace runner::runnerctl

#endif  // RUNNER_CLIENTS_RUNNERCTL_EVENTS_FORMAT_H_
