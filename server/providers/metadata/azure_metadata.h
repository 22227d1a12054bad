#ifndef RUNNER_SERVER_PROVIDERS_METADATA_AZURE_METADATA_H_
#define RUNNER_SERVER_PROVIDERS_METADATA_AZURE_METADATA_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "server/providers/metadata/metadata_client.h"

namespace runner::providers::metadata {

// One IPv4 address of a network interface; `public_ip` is empty when the address has none.
struct AzureIpv4Address {
  std::string private_ip;
  std::string public_ip;
};

// The parts of /metadata/instance the provider uses.
struct AzureInstance {
  std::string location;  // compute.location
  std::string name;      // compute.name
  std::string vm_id;     // compute.vmId
  std::string vm_size;   // compute.vmSize
  // compute.tagsList as (name, value) pairs, in order.
  std::vector<std::pair<std::string, std::string>> tags;
  // network.interface[].ipv4.ipAddress[], one entry per interface.
  std::vector<std::vector<AzureIpv4Address>> interfaces;
};

// /metadata/attested/document.
struct AzureAttestedDocument {
  std::string encoding;
  std::string signature;
};

// The bootstrap values an Azure worker pool puts in the VM's tags.
struct AzureBootstrap {
  std::string root_url;
  std::string worker_pool_id;
  std::string provider_id;
  std::string worker_group;
};

// One entry of /metadata/scheduledevents `Events`.
struct AzureScheduledEvent {
  std::string event_id;
  std::string event_type;  // Freeze, Reboot, Redeploy, Preempt, Terminate
  std::string resource_type;
  std::vector<std::string> resources;  // names of the VMs the event affects
  std::string event_status;
  std::string not_before;  // RFC 1123 ("Mon, 19 Sep 2016 18:29:47 GMT"), or empty
  std::string description;
  std::string event_source;
  std::optional<int64_t> duration_seconds;
};

struct AzureScheduledEvents {
  int64_t document_incarnation = 0;
  std::vector<AzureScheduledEvent> events;
};

// Parsers of the service's answers. kInvalidArgument naming `endpoint` (a path without query)
// and the offending field when a body is not JSON or a field has the wrong type; bodies never
// appear in messages.
absl::StatusOr<AzureInstance> ParseAzureInstance(absl::string_view endpoint,
                                                 const std::string& body);
// Also requires `encoding` to be "pkcs7" and `signature` to be non-empty.
absl::StatusOr<AzureAttestedDocument> ParseAzureAttestedDocument(absl::string_view endpoint,
                                                                 const std::string& body);
absl::StatusOr<AzureScheduledEvents> ParseAzureScheduledEvents(absl::string_view endpoint,
                                                               const std::string& body);

// The tags root-url, worker-pool-id, provider-id and worker-group, checked in that order:
// kInvalidArgument naming the first one that is missing or empty. A trailing '/' of root-url is
// dropped.
absl::StatusOr<AzureBootstrap> BootstrapFromTags(const AzureInstance& instance);

// A scheduled event's NotBefore: nullopt for an empty value, kInvalidArgument when it is not an
// RFC 1123 time.
absl::StatusOr<std::optional<absl::Time>> ParseAzureEventTime(absl::string_view not_before);

// The Azure Instance Metadata Service: every request carries `Metadata: true` and an exact
// api-version. Thread-safe (see MetadataClient).
class AzureMetadata {
 public:
  static constexpr char kDefaultBaseUrl[] = "http://169.254.169.254";
  static constexpr char kInstancePath[] = "/metadata/instance?api-version=2025-04-07";
  static constexpr char kAttestedPath[] = "/metadata/attested/document?api-version=2025-04-07";
  static constexpr char kScheduledEventsPath[] = "/metadata/scheduledevents?api-version=2020-07-01";

  // Errors as MetadataClient::Create.
  static absl::StatusOr<std::unique_ptr<AzureMetadata>> Create(MetadataClientOptions options = {});

  const std::string& base_url() const { return client_->base_url(); }

  // The instance document and the attested document, with retries (MetadataClient::Get). Errors
  // as MetadataClient::Get, or the parsers'. Block.
  absl::StatusOr<AzureInstance> Instance();
  absl::StatusOr<AzureAttestedDocument> AttestedDocument();

  // One attempt at the scheduled events, limited to `timeout`. A non-2xx answer maps as in
  // HttpStatusError; other errors as MetadataClient::GetOnce or the parser's. Blocks.
  absl::StatusOr<AzureScheduledEvents> ScheduledEventsOnce(absl::Duration timeout);

 private:
  explicit AzureMetadata(std::unique_ptr<MetadataClient> client) : client_(std::move(client)) {}

  const std::unique_ptr<MetadataClient> client_;
};

}  // namespace runner::providers::metadata

#endif  // RUNNER_SERVER_PROVIDERS_METADATA_AZURE_METADATA_H_
