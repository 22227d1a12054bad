#ifndef RUNNER_SERVER_PROVIDERS_METADATA_AWS_IMDS_H_
#define RUNNER_SERVER_PROVIDERS_METADATA_AWS_IMDS_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/common/clock.h"
#include "server/providers/metadata/metadata_client.h"

namespace runner::providers::metadata {

// The bootstrap values an AWS worker pool puts in the instance's user data.
struct AwsUserData {
  std::string root_url;
  std::string worker_pool_id;
  std::string provider_id;
  std::string worker_group;
};

// The instance identity document: `raw` byte-exact (its signature covers those bytes) and the
// fields the provider uses.
struct AwsIdentityDocument {
  std::string raw;
  std::string instance_id;
  std::string image_id;
  std::string instance_type;
  std::string region;
  std::string availability_zone;
  std::string private_ip;
};

// The EC2 instance metadata service over IMDSv2: every GET carries a session token, fetched with
// a PUT and cached until it is within 15 minutes of expiring. Thread-safe; two threads may
// occasionally both fetch a token, and the later one is kept.
class AwsImds {
 public:
  static constexpr char kDefaultBaseUrl[] = "http://169.254.169.254";
  static constexpr absl::Duration kAttemptTimeout = absl::Seconds(2);
  static constexpr absl::Duration kTokenTtl = absl::Seconds(21600);
  static constexpr absl::Duration kTokenRefreshMargin = absl::Minutes(15);

  // Options with the service's per-attempt timeout (kAttemptTimeout); start from these.
  static MetadataClientOptions DefaultOptions();

  // `options.clock` also times the token's expiry; `options.attempt_timeout` limits every
  // attempt, token fetches included. Errors as MetadataClient::Create.
  static absl::StatusOr<std::unique_ptr<AwsImds>> Create(
      MetadataClientOptions options = DefaultOptions());

  // The effective base URL (see MetadataClient::base_url).
  const std::string& base_url() const { return client_->base_url(); }

  // GET /latest<path> with retries (MetadataClient::Get), the body verbatim. A 401 drops the
  // cached token and the GET is retried once with a new one; a second 401 is kUnauthenticated.
  // Errors of the token fetch are returned as they are, except that a 404 there becomes
  // kFailedPrecondition, so kNotFound always means the path itself is absent. Blocks.
  absl::StatusOr<std::string> Get(absl::string_view path) ABSL_LOCKS_EXCLUDED(mu_);

  // One attempt of GET /latest<path> for pollers, with the same token handling (a token fetch is
  // one attempt too). Any HTTP status is a response; errors as MetadataClient::GetOnce, or the
  // token fetch's (a non-2xx token answer maps as in HttpStatusError).
  absl::StatusOr<MetadataResponse> GetOnce(absl::string_view path) ABSL_LOCKS_EXCLUDED(mu_);

  // /user-data as a JSON object. kInvalidArgument, naming the endpoint (and the key), when it is
  // not a JSON object or lacks one of the string keys rootUrl, workerPoolId, providerId,
  // workerGroup. Other keys are ignored.
  absl::StatusOr<AwsUserData> UserData() ABSL_LOCKS_EXCLUDED(mu_);
  // /dynamic/instance-identity/document. kInvalidArgument, naming the endpoint, when it is not a
  // JSON object or lacks one of the string fields.
  absl::StatusOr<AwsIdentityDocument> IdentityDocument() ABSL_LOCKS_EXCLUDED(mu_);
  // /dynamic/instance-identity/signature, verbatim.
  absl::StatusOr<std::string> IdentitySignature() ABSL_LOCKS_EXCLUDED(mu_);
  // /meta-data/public-hostname and /meta-data/public-ipv4; nullopt on 404 (no public address).
  absl::StatusOr<std::optional<std::string>> PublicHostname() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::optional<std::string>> PublicIpv4() ABSL_LOCKS_EXCLUDED(mu_);
  // /meta-data/spot/termination-time: the scheduled time when the instance is being reclaimed,
  // nullopt on 404 (nothing scheduled).
  absl::StatusOr<std::optional<std::string>> SpotTerminationTime() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  AwsImds(std::unique_ptr<MetadataClient> client, const common::Clock* clock,
          absl::Duration attempt_timeout);

  // The cached token, or a new one when none is cached or it expires soon. `retrying` selects
  // MetadataClient::Put over a single attempt.
  absl::StatusOr<std::string> Token(bool retrying) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::string> FetchToken(bool retrying) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::string> RequestToken(bool retrying) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets `rejected` unless another thread has already replaced it.
  void DropToken(const std::string& rejected) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::optional<std::string>> GetUnlessNotFound(absl::string_view path)
      ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<MetadataClient> client_;
  const common::Clock* const clock_;  // not owned
  const absl::Duration attempt_timeout_;

  absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);  // empty when none is cached
  absl::Time token_expiry_ ABSL_GUARDED_BY(mu_);
};

}  // namespace runner::providers::metadata

#endif  // RUNNER_SERVER_PROVIDERS_METADATA_AWS_IMDS_H_
