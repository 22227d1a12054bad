#ifndef RUNNER_SERVER_PROVIDERS_AWS_PROVIDER_H_
#define RUNNER_SERVER_PROVIDERS_AWS_PROVIDER_H_

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "server/config/runner_config.h"
#include "server/providers/cloud_provider.h"
#include "server/providers/metadata/aws_imds.h"

namespace runner::providers {

struct AwsProviderOptions {
  // Retry budget, per-attempt timeout, clock and base URL of metadata calls. The clock also
  // paces the throttled error log.
  metadata::MetadataClientOptions metadata = metadata::AwsImds::DefaultOptions();
  // How often the watcher asks for notices; at most 5 s so notices are not missed.
  absl::Duration poll_interval = absl::Seconds(1);
  // A watcher's failures are logged at most once per this interval.
  absl::Duration error_log_interval = absl::Minutes(1);
};

// A notice read from the instance metadata, or nothing; parse helpers for the watcher.
// instance-action: {"action": "terminate"|"stop"|"hibernate", "time": RFC 3339}. A body that is
// not such an object is still a notice (kind "spot-termination", no deadline).
Interruption ParseSpotInstanceAction(const std::string& body);
// termination-time: RFC 3339 text; anything else gives no deadline.
Interruption ParseSpotTerminationTime(const std::string& body);
// events/maintenance/scheduled: a JSON array of {Code, EventId, NotBefore, State, ...}. Returns
// the active or scheduled events as (EventId, advisory interruption) pairs.
// kInvalidArgument when the body is not a JSON array.
absl::StatusOr<std::vector<std::pair<std::string, Interruption>>> ParseScheduledMaintenance(
    const std::string& body);

// An EC2 instance: identity from user data and the signed instance identity document, location
// and metadata from the instance metadata service (IMDSv2), and a watcher for spot interruption
// notices (terminating) and rebalance recommendations and scheduled maintenance (advisory).
// Thread-compatible, except that the watcher runs on its own thread between StartWatching and
// StopWatching.
class AwsProvider : public CloudProvider {
 public:
  // Errors as metadata::AwsImds::Create. Sends nothing.
  static absl::StatusOr<std::unique_ptr<AwsProvider>> Create(const config::ProviderConfig& config,
                                                             AwsProviderOptions options = {});
  ~AwsProvider() override;

  std::string type() const override { return "aws"; }

  // kFailedPrecondition when a spot termination is already scheduled; otherwise the user data,
  // identity document, signature and public addresses fill `state` (public-hostname and
  // public-ipv4 are left out when the instance has none). Errors name the endpoint.
  absl::StatusOr<std::optional<nlohmann::json>> ConfigureRun(RunState* state) override;
  // Accepts a cached state unless a spot termination is already scheduled.
  absl::Status UseCachedRun(RunState* state) override;

  const std::string& metadata_base_url() const { return imds_->base_url(); }

 private:
  explicit AwsProvider(AwsProviderOptions options);

  absl::Status CheckNoTerminationScheduled();
  void Watch(InterruptionSink* sink) override;
  void PollOnce(InterruptionSink* sink);
  // Reports a spot interruption notice, if there is one.
  void PollSpot(InterruptionSink* sink);
  void PollRebalance(InterruptionSink* sink);
  void PollMaintenance(InterruptionSink* sink);
  // The body of a 200 answer, nullopt for 404 or a failure (which is logged, throttled).
  std::optional<std::string> Fetch(absl::string_view path);
  // Reports `interruption` unless `key` was reported before.
  void ReportOnce(const std::string& key, const Interruption& interruption, InterruptionSink* sink);

  const AwsProviderOptions options_;
  std::unique_ptr<metadata::AwsImds> imds_;  // set once by Create

  // Watcher thread only.
  ThrottledFailureLog failures_;
  bool termination_reported_ = false;
  std::set<std::string> reported_;
};

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_AWS_PROVIDER_H_
