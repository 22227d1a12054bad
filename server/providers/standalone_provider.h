#ifndef RUNNER_SERVER_PROVIDERS_STANDALONE_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_STANDALONE_PROVIDER_H_

#include <optional>
#include <string>

#include "server/providers/configured_provider.h"

namespace runner::providers {

// A worker with pre-issued permanent credentials from the runner config: no registration and
// no expiry. Thread-compatible.
class StandaloneProvider : public ConfiguredProvider {
 public:
  explicit StandaloneProvider(config::ProviderConfig config)
      : ConfiguredProvider(std::move(config)) {}

  std::string type() const override { return "standalone"; }
  absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) override;
  absl::Status UseCachedRun(RunState* state) override;
};

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_STANDALONE_PROVIDER_H_
