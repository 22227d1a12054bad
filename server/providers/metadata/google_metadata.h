#ifndef RUNNER_SERVER_PROVIDERS_METADATA_GOOGLE_METADATA_H_
#define RUNNER_SERVER_PROVIDERS_METADATA_GOOGLE_METADATA_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "server/providers/metadata/metadata_client.h"

namespace runner::providers::metadata {

// The bootstrap values a Google worker pool puts in the instance attribute `taskcluster`.
struct GoogleBootstrap {
  std::string root_url;
  std::string worker_pool_id;
  std::string provider_id;
  std::string worker_group;
};

// A zone as the service gives it ("projects/123/zones/us-east1-b") reduced to its name, and the
// region it belongs to.
struct GoogleZone {
  std::string zone;    // "us-east1-b"
  std::string region;  // "us-east1"
};

// The Compute Engine metadata service: every request carries `Metadata-Flavor: Google`.
// Thread-safe.
class GoogleMetadata {
 public:
  static constexpr char kDefaultBaseUrl[] = "http://metadata.google.internal/computeMetadata/v1";
  static constexpr char kPreemptedPath[] = "/instance/preempted";

  // Errors as MetadataClient::Create.
  static absl::StatusOr<std::unique_ptr<GoogleMetadata>> Create(MetadataClientOptions options = {});

  const std::string& base_url() const { return client_->base_url(); }

  // GET <base><path> with retries (MetadataClient::Get), the body verbatim.
  absl::StatusOr<std::string> Get(absl::string_view path);
  // As Get, but nullopt on 404.
  absl::StatusOr<std::optional<std::string>> GetUnlessNotFound(absl::string_view path);
  // One attempt limited to `timeout` (MetadataClient::GetOnce).
  absl::StatusOr<MetadataResponse> GetOnce(absl::string_view path, absl::Duration timeout);

  // /instance/attributes/taskcluster as a JSON object. kInvalidArgument, naming the endpoint
  // (and the key), when it is not a JSON object or lacks one of the string keys rootUrl,
  // workerPoolId, providerId, workerGroup. Other keys (workerConfig) are ignored.
  absl::StatusOr<GoogleBootstrap> Bootstrap();

  // The identity token for `audience` (inserted as is, as the service expects), format=full.
  absl::StatusOr<std::string> IdentityToken(absl::string_view audience);

 private:
  explicit GoogleMetadata(std::unique_ptr<MetadataClient> client) : client_(std::move(client)) {}

  const std::unique_ptr<MetadataClient> client_;
};

// Parses the text of /instance/attributes/taskcluster; `endpoint` names it in errors.
absl::StatusOr<GoogleBootstrap> ParseGoogleBootstrap(absl::string_view endpoint,
                                                     const std::string& body);

// Keeps the text after the last '/' as the zone; the region is the zone without its last two
// characters ("-b"). kInvalidArgument when the zone is too short to have a region.
absl::StatusOr<GoogleZone> ParseGoogleZone(absl::string_view value);

}  // namespace runner::providers::metadata

#endif  // RUNNER_SERVER_PROVIDERS_METADATA_GOOGLE_METADATA_H_
