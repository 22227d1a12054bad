#ifndef RUNNER_SERVER_LIFECYCLE_WORKER_IMPL_H_
#define RUNNER_SERVER_LIFECYCLE_WORKER_IMPL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include "bridge/adapter/subprocess.h"
#include "server/config/runner_config.h"
#include "server/providers/run_state.h"

namespace runner::lifecycle {

// A started worker: its process, or none for a worker that runs in-process (dummy).
struct StartedWorker {
  std::unique_ptr<adapter::Subprocess> process;
  // No process: the worker attaches over the worker channel (implementation external).
  bool attaches = false;
};

// One kind of worker program (`worker.implementation`): what it adds to the worker config and
// how it is started. Used from the run's main thread only.
class WorkerImpl {
 public:
  virtual ~WorkerImpl() = default;

  virtual std::string name() const = 0;

  // Fresh runs: adds the keys this implementation derives to `state->worker_config`.
  // kInvalidArgument when the state cannot be expressed (e.g. a pool id without '/').
  virtual absl::Status ConfigureRun(providers::RunState* state) = 0;

  // Cached runs: brings the cached worker config up to date (e.g. with the current credentials).
  virtual absl::Status UseCachedRun(providers::RunState* /*state*/) { return absl::OkStatus(); }

  // After a credential renewal (on the renewal thread, while the worker runs): puts the new
  // credentials of `state` into its worker config and rewrites what the worker would read at its
  // next start. Must not touch anything Start() handed to the worker process.
  virtual absl::Status UpdateCredentials(providers::RunState* /*state*/) {
    return absl::OkStatus();
  }

  // Writes what the worker needs (its config file) and starts it. kNotFound/kPermissionDenied
  // when the program cannot be run, other codes when its files cannot be written.
  virtual absl::StatusOr<StartedWorker> Start(const providers::RunState& state) = 0;
};

// The implementation named by `settings.implementation` (generic-worker, dummy or external).
absl::StatusOr<std::unique_ptr<WorkerImpl>> MakeWorkerImpl(const config::WorkerSettings& settings);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_WORKER_IMPL_H_
