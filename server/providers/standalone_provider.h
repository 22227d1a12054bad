#ifndef RUNNER_SERVER_PROVIDERS_STANDALONE_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_STANDALONE_PROVIDER_H_

#include <optional>
#include <string>

#include "server/config/runner_config.h"
#include "server/providers/provider.h"

namespace runner::providers {

// A worker with pre-issued permanent credentials: no registration, no expiry, no watch, and not
// dynamically provisioned. Identity and credentials come from the runner config. Thread-compatible.
class StandaloneProvider : public Provider {
 public:
  explicit StandaloneProvider(config::ProviderConfig config) : config_(std::move(config)) {}

  std::string type() const override { return "standalone"; }
  bool dynamically_provisioned() const override { return false; }
  absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) override;
  absl::Status UseCachedRun(RunState* state) override;
  absl::Status StartWatching(InterruptionSink*) override { return absl::OkStatus(); }
  void StopWatching() override {}

 private:
  config::ProviderConfig config_;
};

// The identity fields shared by the providers configured from the runner file (static and
// standalone): ids, rootURL, location {"cloud": cloud} overlaid with the configured extras, and
// a copy of the configured metadata.
void FillStateFromConfig(const config::ProviderConfig& config, const std::string& cloud,
                         RunState* state);

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_STANDALONE_PROVIDER_H_
