#include "server/providers/configured_provider.h"

namespace runner::providers {

void ConfiguredProvider::FillStateFromConfig(RunState* state) const {
  state->root_url = config_.root_url;
  state->worker_pool_id = config_.worker_pool_id;
  state->worker_group = config_.worker_group;
  state->worker_id = config_.worker_id;

  state->worker_location = {{"cloud", type()}};
  for (const auto& [key, value] : config_.worker_location) state->worker_location[key] = value;

  state->provider_metadata =
      config_.provider_metadata.is_object() ? config_.provider_metadata : nlohmann::json::object();
}

}  // namespace runner::providers
