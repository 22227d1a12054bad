#include "server/providers/standalone_provider.h"

#include "server/common/logger.h"

namespace runner::providers {

void FillStateFromConfig(const config::ProviderConfig& config, const std::string& cloud,
                         RunState* state) {
  state->root_url = config.root_url;
  state->worker_pool_id = config.worker_pool_id;
  state->worker_group = config.worker_group;
  state->worker_id = config.worker_id;

  state->worker_location = {{"cloud", cloud}};
  for (const auto& [key, value] : config.worker_location) state->worker_location[key] = value;

  state->provider_metadata =
      config.provider_metadata.is_object() ? config.provider_metadata : nlohmann::json::object();
}

absl::StatusOr<std::optional<nlohmann::json>> StandaloneProvider::ConfigureRun(RunState* state) {
  FillStateFromConfig(config_, "standalone", state);
  state->provider_id = "standalone";
  state->credentials.client_id = config_.client_id;
  state->credentials.access_token = config_.access_token;
  state->credentials.certificate.clear();
  state->credentials_expire.reset();
  common::Logger::Default().AddSecret(config_.access_token);
  return std::optional<nlohmann::json>();
}

absl::Status StandaloneProvider::UseCachedRun(RunState* state) {
  common::Logger::Default().AddSecret(state->credentials.access_token);
  return absl::OkStatus();
}

}  // namespace runner::providers
