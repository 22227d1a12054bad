#include "server/providers/metadata/azure_metadata.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "server/common/status_util.h"

namespace runner::providers::metadata {
namespace {

using nlohmann::json;

const MetadataHeaders& Headers() {
  static const MetadataHeaders* headers = new MetadataHeaders{{"Metadata", "true"}};
  return *headers;
}

absl::string_view WithoutQuery(absl::string_view path) { return path.substr(0, path.find('?')); }

absl::Status Invalid(absl::string_view endpoint, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("azure metadata ", endpoint, ": ", what));
}

absl::StatusOr<json> ParseObject(absl::string_view endpoint, const std::string& body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return Invalid(endpoint, "response is not valid JSON");
  if (!parsed.is_object()) return Invalid(endpoint, "response is not a JSON object");
  return parsed;
}

// Reads the string `object[key]` into `out`; `field` names it in errors. A missing key is an
// error only when `required`.
absl::Status ReadString(absl::string_view endpoint, const json& object, const char* key,
                        absl::string_view field, bool required, std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) return Invalid(endpoint, absl::StrCat("missing string field ", field));
    return absl::OkStatus();
  }
  if (!it->is_string()) return Invalid(endpoint, absl::StrCat(field, " is not a string"));
  *out = it->get<std::string>();
  return absl::OkStatus();
}

// `object[key]` when it is of the kind `is_kind` checks, nullptr when absent or null.
absl::StatusOr<const json*> Member(absl::string_view endpoint, const json& object, const char* key,
                                   absl::string_view field, bool (json::*is_kind)() const,
                                   absl::string_view kind) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  if (!((*it).*is_kind)()) return Invalid(endpoint, absl::StrCat(field, " is not ", kind));
  return &*it;
}

absl::Status ParseTags(absl::string_view endpoint, const json& compute, AzureInstance* instance) {
  RUNNER_ASSIGN_OR_RETURN(
      const json* tags,
      Member(endpoint, compute, "tagsList", "compute.tagsList", &json::is_array, "an array"));
  if (tags == nullptr) return absl::OkStatus();
  for (size_t i = 0; i < tags->size(); ++i) {
    const json& tag = (*tags)[i];
    std::string field = absl::StrCat("compute.tagsList[", i, "]");
    if (!tag.is_object()) return Invalid(endpoint, absl::StrCat(field, " is not an object"));
    std::string name, value;
    RUNNER_RETURN_IF_ERROR(ReadString(endpoint, tag, "name", field + ".name", true, &name));
    RUNNER_RETURN_IF_ERROR(ReadString(endpoint, tag, "value", field + ".value", true, &value));
    instance->tags.emplace_back(std::move(name), std::move(value));
  }
  return absl::OkStatus();
}

absl::Status ParseInterfaces(absl::string_view endpoint, const json& network,
                             AzureInstance* instance) {
  RUNNER_ASSIGN_OR_RETURN(
      const json* interfaces,
      Member(endpoint, network, "interface", "network.interface", &json::is_array, "an array"));
  if (interfaces == nullptr) return absl::OkStatus();
  for (size_t i = 0; i < interfaces->size(); ++i) {
    std::string field = absl::StrCat("network.interface[", i, "]");
    const json& nic = (*interfaces)[i];
    if (!nic.is_object()) return Invalid(endpoint, absl::StrCat(field, " is not an object"));
    std::vector<AzureIpv4Address> addresses;
    RUNNER_ASSIGN_OR_RETURN(const json* ipv4, Member(endpoint, nic, "ipv4", field + ".ipv4",
                                                     &json::is_object, "an object"));
    if (ipv4 != nullptr) {
      RUNNER_ASSIGN_OR_RETURN(const json* list,
                              Member(endpoint, *ipv4, "ipAddress", field + ".ipv4.ipAddress",
                                     &json::is_array, "an array"));
      for (size_t j = 0; list != nullptr && j < list->size(); ++j) {
        std::string entry = absl::StrCat(field, ".ipv4.ipAddress[", j, "]");
        const json& address = (*list)[j];
        if (!address.is_object()) return Invalid(endpoint, entry + " is not an object");
        AzureIpv4Address parsed;
        RUNNER_RETURN_IF_ERROR(ReadString(endpoint, address, "privateIpAddress",
                                          entry + ".privateIpAddress", false, &parsed.private_ip));
        RUNNER_RETURN_IF_ERROR(ReadString(endpoint, address, "publicIpAddress",
                                          entry + ".publicIpAddress", false, &parsed.public_ip));
        addresses.push_back(std::move(parsed));
      }
    }
    instance->interfaces.push_back(std::move(addresses));
  }
  return absl::OkStatus();
}

absl::StatusOr<AzureScheduledEvent> ParseEvent(absl::string_view endpoint, const json& event,
                                               const std::string& field) {
  if (!event.is_object()) return Invalid(endpoint, field + " is not an object");
  AzureScheduledEvent parsed;
  struct StringField {
    const char* key;
    std::string* out;
  };
  for (const StringField& f :
       {StringField{"EventId", &parsed.event_id}, StringField{"EventType", &parsed.event_type},
        StringField{"ResourceType", &parsed.resource_type},
        StringField{"EventStatus", &parsed.event_status},
        StringField{"NotBefore", &parsed.not_before},
        StringField{"Description", &parsed.description},
        StringField{"EventSource", &parsed.event_source}}) {
    // Only the id and the type are needed to act on an event.
    bool required = f.out == &parsed.event_id || f.out == &parsed.event_type;
    RUNNER_RETURN_IF_ERROR(
        ReadString(endpoint, event, f.key, absl::StrCat(field, ".", f.key), required, f.out));
  }

  RUNNER_ASSIGN_OR_RETURN(
      const json* resources,
      Member(endpoint, event, "Resources", field + ".Resources", &json::is_array, "an array"));
  for (size_t i = 0; resources != nullptr && i < resources->size(); ++i) {
    if (!(*resources)[i].is_string()) {
      return Invalid(endpoint, absl::StrCat(field, ".Resources[", i, "] is not a string"));
    }
    parsed.resources.push_back((*resources)[i].get<std::string>());
  }

  RUNNER_ASSIGN_OR_RETURN(const json* duration,
                          Member(endpoint, event, "DurationInSeconds", field + ".DurationInSeconds",
                                 &json::is_number_integer, "an integer"));
  if (duration != nullptr) parsed.duration_seconds = duration->get<int64_t>();
  return parsed;
}

}  // namespace

absl::StatusOr<AzureInstance> ParseAzureInstance(absl::string_view endpoint,
                                                 const std::string& body) {
  RUNNER_ASSIGN_OR_RETURN(json document, ParseObject(endpoint, body));
  RUNNER_ASSIGN_OR_RETURN(const json* compute, Member(endpoint, document, "compute", "compute",
                                                      &json::is_object, "an object"));
  if (compute == nullptr) return Invalid(endpoint, "missing object field compute");

  AzureInstance instance;
  RUNNER_RETURN_IF_ERROR(ReadString(endpoint, *compute, "location", "compute.location",
                                    /*required=*/true, &instance.location));
  RUNNER_RETURN_IF_ERROR(
      ReadString(endpoint, *compute, "name", "compute.name", /*required=*/true, &instance.name));
  RUNNER_RETURN_IF_ERROR(
      ReadString(endpoint, *compute, "vmId", "compute.vmId", /*required=*/true, &instance.vm_id));
  RUNNER_RETURN_IF_ERROR(ReadString(endpoint, *compute, "vmSize", "compute.vmSize",
                                    /*required=*/true, &instance.vm_size));
  if (instance.name.empty()) return Invalid(endpoint, "compute.name is empty");
  RUNNER_RETURN_IF_ERROR(ParseTags(endpoint, *compute, &instance));

  RUNNER_ASSIGN_OR_RETURN(const json* network, Member(endpoint, document, "network", "network",
                                                      &json::is_object, "an object"));
  if (network != nullptr) RUNNER_RETURN_IF_ERROR(ParseInterfaces(endpoint, *network, &instance));
  return instance;
}

absl::StatusOr<AzureAttestedDocument> ParseAzureAttestedDocument(absl::string_view endpoint,
                                                                 const std::string& body) {
  RUNNER_ASSIGN_OR_RETURN(json document, ParseObject(endpoint, body));
  AzureAttestedDocument attested;
  RUNNER_RETURN_IF_ERROR(ReadString(endpoint, document, "encoding", "encoding", /*required=*/true,
                                    &attested.encoding));
  RUNNER_RETURN_IF_ERROR(ReadString(endpoint, document, "signature", "signature",
                                    /*required=*/true, &attested.signature));
  if (attested.encoding != "pkcs7") {
    return Invalid(endpoint, "encoding is not pkcs7");
  }
  if (attested.signature.empty()) return Invalid(endpoint, "signature is empty");
  return attested;
}

absl::StatusOr<AzureScheduledEvents> ParseAzureScheduledEvents(absl::string_view endpoint,
                                                               const std::string& body) {
  RUNNER_ASSIGN_OR_RETURN(json document, ParseObject(endpoint, body));
  AzureScheduledEvents parsed;
  RUNNER_ASSIGN_OR_RETURN(const json* incarnation,
                          Member(endpoint, document, "DocumentIncarnation", "DocumentIncarnation",
                                 &json::is_number_integer, "an integer"));
  if (incarnation != nullptr) parsed.document_incarnation = incarnation->get<int64_t>();

  RUNNER_ASSIGN_OR_RETURN(const json* events, Member(endpoint, document, "Events", "Events",
                                                     &json::is_array, "an array"));
  for (size_t i = 0; events != nullptr && i < events->size(); ++i) {
    RUNNER_ASSIGN_OR_RETURN(AzureScheduledEvent event,
                            ParseEvent(endpoint, (*events)[i], absl::StrCat("Events[", i, "]")));
    parsed.events.push_back(std::move(event));
  }
  return parsed;
}

absl::StatusOr<AzureBootstrap> BootstrapFromTags(const AzureInstance& instance) {
  auto tag = [&instance](absl::string_view name, std::string* out) -> absl::Status {
    for (const auto& [key, value] : instance.tags) {
      if (key == name && !value.empty()) {
        *out = value;
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("azure metadata ", WithoutQuery(AzureMetadata::kInstancePath),
                     ": compute.tagsList: missing or empty tag ", name));
  };
  AzureBootstrap bootstrap;
  RUNNER_RETURN_IF_ERROR(tag("root-url", &bootstrap.root_url));
  RUNNER_RETURN_IF_ERROR(tag("worker-pool-id", &bootstrap.worker_pool_id));
  RUNNER_RETURN_IF_ERROR(tag("provider-id", &bootstrap.provider_id));
  RUNNER_RETURN_IF_ERROR(tag("worker-group", &bootstrap.worker_group));
  // Taskcluster URLs are built by appending "/api/...", so a trailing '/' would double it.
  while (!bootstrap.root_url.empty() && bootstrap.root_url.back() == '/') {
    bootstrap.root_url.pop_back();
  }
  if (bootstrap.root_url.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("azure metadata ", WithoutQuery(AzureMetadata::kInstancePath),
                     ": compute.tagsList: tag root-url is not a URL"));
  }
  return bootstrap;
}

absl::StatusOr<std::optional<absl::Time>> ParseAzureEventTime(absl::string_view not_before) {
  if (not_before.empty()) return std::optional<absl::Time>();
  absl::Time time;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", not_before, absl::UTCTimeZone(), &time,
                       &error)) {
    return absl::InvalidArgumentError(absl::StrCat("NotBefore is not an RFC 1123 time: ", error));
  }
  return std::optional<absl::Time>(time);
}

absl::StatusOr<std::unique_ptr<AzureMetadata>> AzureMetadata::Create(
    MetadataClientOptions options) {
  RUNNER_ASSIGN_OR_RETURN(std::unique_ptr<MetadataClient> client,
                          MetadataClient::Create(kDefaultBaseUrl, std::move(options)));
  return std::unique_ptr<AzureMetadata>(new AzureMetadata(std::move(client)));
}

absl::StatusOr<AzureInstance> AzureMetadata::Instance() {
  RUNNER_ASSIGN_OR_RETURN(std::string body, client_->Get(kInstancePath, Headers()));
  return ParseAzureInstance(WithoutQuery(kInstancePath), body);
}

absl::StatusOr<AzureAttestedDocument> AzureMetadata::AttestedDocument() {
  RUNNER_ASSIGN_OR_RETURN(std::string body, client_->Get(kAttestedPath, Headers()));
  return ParseAzureAttestedDocument(WithoutQuery(kAttestedPath), body);
}

absl::StatusOr<AzureScheduledEvents> AzureMetadata::ScheduledEventsOnce(absl::Duration timeout) {
  RUNNER_ASSIGN_OR_RETURN(MetadataResponse response,
                          client_->GetOnce(kScheduledEventsPath, Headers(), timeout));
  if (response.status < 200 || response.status > 299) {
    return HttpStatusError("GET", kScheduledEventsPath, response.status);
  }
  return ParseAzureScheduledEvents(WithoutQuery(kScheduledEventsPath), response.body);
}

}  // namespace runner::providers::metadata
