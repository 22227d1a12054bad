#ifndef RUNNER_SERVER_PROVIDERS_CONFIGURED_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_CONFIGURED_PROVIDER_H_

#include <string>
#include <utility>

#include "server/config/runner_config.h"
#include "server/providers/provider.h"

namespace runner::providers {

// Common ground of the providers configured entirely from the runner file (static and
// standalone): no interruption watch, not dynamically provisioned, and identity, location and
// metadata copied from the config. Thread-compatible.
class ConfiguredProvider : public Provider {
 public:
  bool dynamically_provisioned() const override { return false; }
  absl::Status StartWatching(InterruptionSink*) override { return absl::OkStatus(); }
  void StopWatching() override {}

 protected:
  explicit ConfiguredProvider(config::ProviderConfig config) : config_(std::move(config)) {}

  // Fills ids and rootURL, the location {"cloud": type()} overlaid with the configured extras,
  // and a copy of the configured metadata.
  void FillStateFromConfig(RunState* state) const;

  const config::ProviderConfig& config() const { return config_; }

 private:
  config::ProviderConfig config_;
};

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_CONFIGURED_PROVIDER_H_
