#ifndef RUNNER_SERVER_LIFECYCLE_WORKER_CONFIG_H_
#define RUNNER_SERVER_LIFECYCLE_WORKER_CONFIG_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

#include "server/providers/run_state.h"
#include "server/taskcluster/credentials.h"
#include "server/taskcluster/worker_manager.h"

namespace runner::lifecycle {

// `generic-worker` -> `genericWorker`: each '-' followed by an ASCII lower-case letter becomes
// that letter upper-cased.
std::string CamelCaseImplementation(absl::string_view implementation);

// Merges registerWorker's `workerConfig` into the run (worker-config spec §3): the structured
// form `{<camelCaseImplementation>: {"config": {...}, "files": [...]}}` (exactly one member)
// merges `config` and appends `files`; any other object is flat configuration. Null does
// nothing; any other non-object is kInvalidArgument.
absl::Status ApplyPoolWorkerConfig(const nlohmann::json& worker_config,
                                   const std::string& implementation, providers::RunState* state);

// Merges one secret's value into the run (§4): structured (`config` object and/or `files`
// array, nothing else) merges config and appends files; otherwise the whole object is legacy
// configuration (logged). A value that is not an object is kInvalidArgument naming `name`.
absl::Status ApplySecret(const nlohmann::json& secret, const std::string& name,
                         providers::RunState* state);

// Reads `worker-type:<pool>` then `worker-pool:<pool>` with the run's credentials and applies
// each. 404 skips a name, 403 skips only `worker-type:`; any other error is returned with the
// secret's name. Logs a warning when neither exists.
absl::Status LoadSecrets(taskcluster::SecretsClient* secrets, providers::RunState* state);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_WORKER_CONFIG_H_
