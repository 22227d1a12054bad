#ifndef RUNNER_SERVER_PROVIDERS_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_PROVIDER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "server/config/runner_config.h"
#include "server/providers/run_state.h"

namespace runner::providers {

// A notice that the instance is going away (spot termination, preemption) or an advisory event.
struct Interruption {
  std::string source;  // "aws", "google", "azure", ...
  std::string kind;    // "spot-termination", "preemption", "rebalance-recommendation", ...
  std::optional<absl::Time> deadline;
  // True when the worker must be told to stop; false for advisory events.
  bool terminates = true;
};

// Receives interruption notices from a provider's watcher thread. Must return quickly.
class InterruptionSink {
 public:
  virtual ~InterruptionSink() = default;
  virtual void OnInterruption(const Interruption& interruption) = 0;
};

// Answers "who is this worker and how does it prove it", and watches for cloud interruptions
// while the worker runs. Hooks are called in this order from the run's main thread:
// ConfigureRun (fresh run) or UseCachedRun (cached run), StartWatching, StopWatching.
// Watchers run on the provider's own thread and report through the sink.
class Provider {
 public:
  virtual ~Provider() = default;

  // The `providerType` this provider implements.
  virtual std::string type() const = 0;

  // True for providers whose workers worker-manager creates and removes (aws, azure, google):
  // only those call removeWorker at the end.
  virtual bool dynamically_provisioned() const = 0;

  // Fresh run: fills identity, location and metadata into `state`. Returns the identity proof
  // for registerWorker, or nullopt when this provider does not register (standalone, whose
  // credentials it fills itself). kInvalidArgument for bad settings, kUnavailable when the
  // metadata service could not be reached within the retry budget.
  virtual absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) = 0;

  // Cached run: accepts (or refuses, kFailedPrecondition) a state restored from the cache.
  virtual absl::Status UseCachedRun(RunState* state) = 0;

  // The worker has started: watch for interruptions until StopWatching. `sink` is not owned and
  // must outlive StopWatching. Providers without a watch do nothing.
  virtual absl::Status StartWatching(InterruptionSink* sink) = 0;

  // Stops and joins the watcher, if any. Idempotent.
  virtual void StopWatching() = 0;
};

// Creates the provider named by `config.provider_type` (standalone, static, aws, google, azure);
// an unknown or missing type gives kInvalidArgument. Sends nothing.
absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const config::ProviderConfig& config);

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_PROVIDER_H_
