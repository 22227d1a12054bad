#ifndef RUNNER_SERVER_SERVICE_PROTO_CONVERT_H_
#define RUNNER_SERVER_SERVICE_PROTO_CONVERT_H_

#include <optional>

#include "proto/runner.pb.h"
#include "server/lifecycle/event_log.h"
#include "server/lifecycle/run_status.h"

namespace runner::service {

// The snapshot as the API's message.
void SnapshotToProto(const lifecycle::StatusSnapshot& snapshot,
                     workerrunner::v1::RunnerStatus* out);

// An event as the API's message.
void EventToProto(const lifecycle::Event& event, workerrunner::v1::Event* out);

// The lifecycle kind of an API kind; nullopt for CURRENT_STATE and unknown values.
std::optional<lifecycle::EventKind> KindFromProto(workerrunner::v1::EventKind kind);

workerrunner::v1::DrainOutcome DrainOutcomeToProto(lifecycle::DrainOutcome outcome);

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_PROTO_CONVERT_H_
