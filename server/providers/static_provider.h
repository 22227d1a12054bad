#ifndef RUNNER_SERVER_PROVIDERS_STATIC_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_STATIC_PROVIDER_H_

#include <optional>
#include <string>

#include "server/config/runner_config.h"
#include "server/providers/provider.h"

namespace runner::providers {

// A worker on hardware that worker-manager already knows (created with createWorker): identity
// from the runner config, registration proven with the configured static secret on every boot.
// No watch, not dynamically provisioned, never from a cache. Thread-compatible.
class StaticProvider : public Provider {
 public:
  explicit StaticProvider(config::ProviderConfig config) : config_(std::move(config)) {}

  std::string type() const override { return "static"; }
  bool dynamically_provisioned() const override { return false; }
  absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) override;
  absl::Status UseCachedRun(RunState* state) override;
  absl::Status StartWatching(InterruptionSink*) override { return absl::OkStatus(); }
  void StopWatching() override {}

 private:
  config::ProviderConfig config_;
};

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_STATIC_PROVIDER_H_
