#include "server/providers/static_provider.h"

#include "server/common/logger.h"
#include "server/providers/standalone_provider.h"

namespace runner::providers {

absl::StatusOr<std::optional<nlohmann::json>> StaticProvider::ConfigureRun(RunState* state) {
  FillStateFromConfig(config_, "static", state);
  state->provider_id = config_.provider_id;
  common::Logger::Default().AddSecret(config_.static_secret);
  return std::optional<nlohmann::json>(nlohmann::json{{"staticSecret", config_.static_secret}});
}

absl::Status StaticProvider::UseCachedRun(RunState*) {
  return absl::FailedPreconditionError("do not use cacheOverRestarts with static provider");
}

}  // namespace runner::providers
