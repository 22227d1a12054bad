#ifndef RUNNER_SERVER_PROVIDERS_GOOGLE_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_GOOGLE_PROVIDER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "server/config/runner_config.h"
#include "server/providers/cloud_provider.h"
#include "server/providers/metadata/google_metadata.h"

namespace runner::providers {

struct GoogleProviderOptions {
  // Retry budget, per-attempt timeout, clock and base URL of metadata calls. The clock also
  // paces the throttled error log.
  metadata::MetadataClientOptions metadata;
  // The start-up preemption check is one attempt this long; its failures are ignored.
  absl::Duration check_timeout = absl::Seconds(2);
  // How long one hanging `preempted?wait_for_change=true` request may wait before it is asked
  // again.
  absl::Duration hang_timeout = absl::Minutes(5);
  // Wait after a failed request: starts at `error_backoff`, doubles up to `max_error_backoff`.
  absl::Duration error_backoff = absl::Seconds(1);
  absl::Duration max_error_backoff = absl::Seconds(30);
  // The least time between two requests when the service answers at once without a change.
  absl::Duration min_request_interval = absl::Seconds(1);
  // A watcher's failures are logged at most once per this interval.
  absl::Duration error_log_interval = absl::Minutes(1);
};

// A Compute Engine instance: identity from the instance attribute `taskcluster` and an identity
// token for the rootURL, location and metadata from the metadata service, and a watcher on the
// hanging `preempted` request. Thread-compatible, except that the watcher runs on its own thread
// between StartWatching and StopWatching.
class GoogleProvider : public CloudProvider {
 public:
  // Errors as metadata::GoogleMetadata::Create. Sends nothing.
  static absl::StatusOr<std::unique_ptr<GoogleProvider>> Create(
      const config::ProviderConfig& config, GoogleProviderOptions options = {});
  ~GoogleProvider() override;

  std::string type() const override { return "google"; }

  // kFailedPrecondition when the instance is already preempted; otherwise fills `state` from the
  // metadata service (public-ipv4 is left out when the instance has no external address) and
  // returns {"token": <identity token>}. Errors name the endpoint.
  absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) override;
  // Accepts a cached state unless the instance is already preempted.
  absl::Status UseCachedRun(RunState* state) override;

  const std::string& metadata_base_url() const { return metadata_->base_url(); }

 private:
  explicit GoogleProvider(GoogleProviderOptions options);

  absl::Status CheckNotPreempted();
  void Watch(InterruptionSink* sink) override;

  const GoogleProviderOptions options_;
  std::unique_ptr<metadata::GoogleMetadata> metadata_;  // set once by Create

  ThrottledFailureLog failures_;  // watcher thread only
};

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_GOOGLE_PROVIDER_H_
