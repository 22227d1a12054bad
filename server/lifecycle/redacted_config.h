#ifndef RUNNER_SERVER_LIFECYCLE_REDACTED_CONFIG_H_
#define RUNNER_SERVER_LIFECYCLE_REDACTED_CONFIG_H_

#include <string>
#include <vector>

#include "nlohmann/json.hpp"

#include "server/lifecycle/run_status.h"
#include "server/providers/run_state.h"

namespace runner::lifecycle {

// The placeholder that replaces a secret value.
inline constexpr char kRedacted[] = "[redacted]";

// Appends to `paths` the JSON pointer (under `prefix`) of every leaf of `value`; an array counts
// as one leaf, since merging concatenates arrays and element positions shift.
void CollectLeafPaths(const nlohmann::json& value, const std::string& prefix,
                      std::vector<std::string>* paths);

// state.worker_config with every secret value replaced by kRedacted: the values that came from
// the secrets service (state.secret_config_paths), and every string containing the run's
// credentials (access token, certificate, registration secret) or one of `extra_secrets`.
RedactedConfig RedactWorkerConfig(const providers::RunState& state,
                                  const std::vector<std::string>& extra_secrets);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_REDACTED_CONFIG_H_
