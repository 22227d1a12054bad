#include "server/providers/static_provider.h"

#include "server/common/logger.h"

namespace runner::providers {

absl::StatusOr<std::optional<nlohmann::json>> StaticProvider::ConfigureRun(RunState* state) {
  FillStateFromConfig(state);
  state->provider_id = config().provider_id;
  common::Logger::Default().AddSecret(config().static_secret);
  return std::optional<nlohmann::json>(nlohmann::json{{"staticSecret", config().static_secret}});
}

absl::Status StaticProvider::UseCachedRun(RunState*) {
  return absl::FailedPreconditionError("do not use cacheOverRestarts with static provider");
}

}  // namespace runner::providers
