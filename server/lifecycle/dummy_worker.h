#ifndef RUNNER_SERVER_LIFECYCLE_DUMMY_WORKER_H_
#define RUNNER_SERVER_LIFECYCLE_DUMMY_WORKER_H_

#include <string>

#include "nlohmann/json.hpp"

#include "server/lifecycle/worker_impl.h"

namespace runner::lifecycle {

// The debugging worker: adds nothing, logs the run state with its secrets redacted, and
// finishes at once without a process or protocol peer.
class DummyWorker : public WorkerImpl {
 public:
  std::string name() const override { return "dummy"; }
  absl::Status ConfigureRun(providers::RunState*) override { return absl::OkStatus(); }
  absl::StatusOr<StartedWorker> Start(const providers::RunState& state) override;
};

// The run state as JSON with the access token, certificate and registration secret replaced.
nlohmann::json RedactedRunState(const providers::RunState& state);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_DUMMY_WORKER_H_
