#include "server/providers/standalone_provider.h"

#include "server/common/logger.h"

namespace runner::providers {

absl::StatusOr<std::optional<nlohmann::json>> StandaloneProvider::ConfigureRun(RunState* state) {
  FillStateFromConfig(state);
  state->provider_id = "standalone";
  state->credentials.client_id = config().client_id;
  state->credentials.access_token = config().access_token;
  state->credentials.certificate.clear();
  state->credentials_expire.reset();
  common::Logger::Default().AddSecret(config().access_token);
  return std::optional<nlohmann::json>();
}

absl::Status StandaloneProvider::UseCachedRun(RunState* state) {
  common::Logger::Default().AddSecret(state->credentials.access_token);
  return absl::OkStatus();
}

}  // namespace runner::providers
