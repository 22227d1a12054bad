#ifndef RUNNER_SERVER_PROVIDERS_STATIC_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_STATIC_PROVIDER_H_

#include <optional>
#include <string>

#include "server/providers/configured_provider.h"

namespace runner::providers {

// A worker on hardware that worker-manager already knows (created with createWorker): identity
// from the runner config, registration proven with the configured static secret on every boot,
// never from a cache. Thread-compatible.
class StaticProvider : public ConfiguredProvider {
 public:
  explicit StaticProvider(config::ProviderConfig config) : ConfiguredProvider(std::move(config)) {}

  std::string type() const override { return "static"; }
  absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) override;
  absl::Status UseCachedRun(RunState* state) override;
};

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_STATIC_PROVIDER_H_
