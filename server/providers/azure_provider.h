#ifndef RUNNER_SERVER_PROVIDERS_AZURE_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_AZURE_PROVIDER_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/providers/metadata/azure_metadata.h"
#include "server/providers/metadata/metadata_client.h"
#include "server/providers/provider.h"

namespace runner::providers {

struct AzureProviderOptions {
  // Retry budget, clock and base URL of the configure calls. Its `cancellation` is ignored: the
  // watcher brings its own.
  metadata::MetadataClientOptions metadata;
  // Scheduled events are asked for this often (start to start); a slower answer delays the next
  // request, so at most one is in flight.
  absl::Duration poll_interval = absl::Seconds(1);
  // Limit of one scheduled-events request; the service's first answer can take about 2 minutes.
  absl::Duration poll_timeout = absl::Minutes(3);
  // Limit of the one scheduled-events request made before the worker starts, to refuse a VM that
  // is already being taken away. A slower or failed answer lets the start go on.
  absl::Duration startup_check_timeout = absl::Seconds(5);
  // A failing watcher logs at most once per this interval (measured on `metadata.clock`).
  absl::Duration error_log_interval = absl::Minutes(1);
};

// An Azure VM: identity from the instance metadata and its tags, proof from the attested document,
// and a watcher thread on the scheduled events (Preempt and Terminate end the worker; Reboot and
// Redeploy are advisory; Freeze and events for other VMs are ignored). Thread-compatible, except
// that the watcher reports on its own thread.
class AzureProvider : public Provider {
 public:
  // Errors as metadata::MetadataClient::Create.
  static absl::StatusOr<std::unique_ptr<AzureProvider>> Create(AzureProviderOptions options = {});
  ~AzureProvider() override;  // stops the watcher

  std::string type() const override { return "azure"; }
  bool dynamically_provisioned() const override { return true; }

  // Reads the instance and attested documents, fills the state from the tags, and refuses
  // (kFailedPrecondition) a VM with a Preempt or Terminate event for it. Returns {"document":
  // <attested signature>}. kInvalidArgument for bad documents or tags, kUnavailable when the
  // service stayed unreachable for the retry budget; messages name the endpoint.
  absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) override;
  // Accepts the cached state unless the VM is already being taken away (kFailedPrecondition).
  absl::Status UseCachedRun(RunState* state) override;

  // Starts the watcher thread for the VM named by the configured workerId. One watch per
  // provider: kFailedPrecondition when called again or before the run was configured.
  absl::Status StartWatching(InterruptionSink* sink) override ABSL_LOCKS_EXCLUDED(mu_);
  // Aborts a request in flight and joins the watcher.
  void StopWatching() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  AzureProvider(AzureProviderOptions options, std::unique_ptr<metadata::AzureMetadata> configure);

  // The start-up check: kFailedPrecondition when a terminating event for this VM is announced.
  absl::Status RefuseIfTerminating();
  void Watch(InterruptionSink* sink);
  // Reports the events for this VM not reported before.
  void Report(const metadata::AzureScheduledEvents& events, InterruptionSink* sink);
  void LogWatchError(const absl::Status& error);

  const AzureProviderOptions options_;
  const common::Clock* const clock_;  // not owned
  // Stops the watcher: aborts its request and its wait. Declared before the client using it.
  common::Cancellation stop_watch_;
  const std::unique_ptr<metadata::AzureMetadata> configure_metadata_;
  // Set once by Create(); its transfers use `stop_watch_`.
  std::unique_ptr<metadata::AzureMetadata> watch_metadata_;

  // Set by ConfigureRun / UseCachedRun, read by the watcher after StartWatching.
  std::string vm_name_;

  // Watcher thread only.
  std::set<std::string> reported_;
  std::optional<absl::Time> last_error_log_;

  absl::Mutex mu_;
  std::thread watcher_ ABSL_GUARDED_BY(mu_);
  bool watch_started_ ABSL_GUARDED_BY(mu_) = false;
};

// What an event means for the worker: nullopt when it is ignored (Freeze, or not for `vm_name`),
// else an Interruption with source "azure", a kind from the event type and the NotBefore
// deadline (unset when absent or unreadable).
std::optional<Interruption> InterruptionForEvent(const metadata::AzureScheduledEvent& event,
                                                 const std::string& vm_name);

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_AZURE_PROVIDER_H_
