#ifndef RUNNER_SERVER_LIFECYCLE_GENERIC_WORKER_H_
#define RUNNER_SERVER_LIFECYCLE_GENERIC_WORKER_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "server/config/runner_config.h"
#include "server/lifecycle/worker_impl.h"

namespace runner::lifecycle {

// generic-worker in child-process mode: its config is written as JSON to `configPath` and it is
// started as `<path> run --config <configPath> --with-worker-runner`, talking the text protocol on
// its stdin/stdout.
class GenericWorker : public WorkerImpl {
 public:
  explicit GenericWorker(config::WorkerSettings settings) : settings_(std::move(settings)) {}

  std::string name() const override { return "generic-worker"; }
  absl::Status ConfigureRun(providers::RunState* state) override;
  absl::Status UseCachedRun(providers::RunState* state) override;
  absl::Status UpdateCredentials(providers::RunState* state) override;
  absl::StatusOr<StartedWorker> Start(const providers::RunState& state) override;

 private:
  config::WorkerSettings settings_;
};

// Adds generic-worker's derived keys to `state->worker_config`: the six instance keys from the
// provider metadata, workerLocation as a JSON string, workerTypeMetadata, provisionerId and
// workerType from the pool id, and the identity and credential keys. Adds no other keys:
// generic-worker rejects keys it does not know.
absl::Status DeriveGenericWorkerConfig(providers::RunState* state);

// Replaces clientId, accessToken and certificate of `config` with `credentials` (the certificate
// is removed when they have none: a stale one would not match the new token).
void SetGenericWorkerCredentials(const taskcluster::Credentials& credentials,
                                 nlohmann::json* config);

// The config file content: 2-space indented JSON with sorted keys, no trailing newline.
std::string RenderGenericWorkerConfig(const nlohmann::json& config);

std::vector<std::string> GenericWorkerArgv(const config::WorkerSettings& settings);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_GENERIC_WORKER_H_
