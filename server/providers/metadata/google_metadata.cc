#include "server/providers/metadata/google_metadata.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "server/common/status_util.h"

namespace runner::providers::metadata {
namespace {

constexpr char kFlavorHeader[] = "Metadata-Flavor";
constexpr char kFlavor[] = "Google";

MetadataHeaders FlavorHeaders() { return {{kFlavorHeader, kFlavor}}; }

}  // namespace

absl::StatusOr<GoogleBootstrap> ParseGoogleBootstrap(absl::string_view endpoint,
                                                     const std::string& body) {
  // The body itself never appears in an error: it may carry configuration secrets.
  nlohmann::json object = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("google metadata ", endpoint, ": not a JSON object"));
  }
  GoogleBootstrap bootstrap;
  const std::pair<const char*, std::string*> fields[] = {
      {"rootUrl", &bootstrap.root_url},
      {"workerPoolId", &bootstrap.worker_pool_id},
      {"providerId", &bootstrap.provider_id},
      {"workerGroup", &bootstrap.worker_group},
  };
  for (const auto& [key, out] : fields) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("google metadata ", endpoint, ": missing string field ", key));
    }
    *out = it->get<std::string>();
  }
  return bootstrap;
}

absl::StatusOr<GoogleZone> ParseGoogleZone(absl::string_view value) {
  GoogleZone zone;
  size_t slash = value.rfind('/');
  zone.zone = std::string(slash == absl::string_view::npos ? value : value.substr(slash + 1));
  if (zone.zone.size() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("google metadata /instance/zone: \"", zone.zone, "\" is not a zone name"));
  }
  zone.region = zone.zone.substr(0, zone.zone.size() - 2);
  return zone;
}

absl::StatusOr<std::unique_ptr<GoogleMetadata>> GoogleMetadata::Create(
    MetadataClientOptions options) {
  RUNNER_ASSIGN_OR_RETURN(std::unique_ptr<MetadataClient> client,
                          MetadataClient::Create(kDefaultBaseUrl, std::move(options)));
  return std::unique_ptr<GoogleMetadata>(new GoogleMetadata(std::move(client)));
}

absl::StatusOr<std::string> GoogleMetadata::Get(absl::string_view path) {
  return client_->Get(path, FlavorHeaders());
}

absl::StatusOr<std::optional<std::string>> GoogleMetadata::GetUnlessNotFound(
    absl::string_view path) {
  absl::StatusOr<std::string> body = Get(path);
  if (body.status().code() == absl::StatusCode::kNotFound) return std::nullopt;
  if (!body.ok()) return body.status();
  return std::optional<std::string>(*std::move(body));
}

absl::StatusOr<MetadataResponse> GoogleMetadata::GetOnce(absl::string_view path,
                                                         absl::Duration timeout) {
  return client_->GetOnce(path, FlavorHeaders(), timeout);
}

absl::StatusOr<GoogleBootstrap> GoogleMetadata::Bootstrap() {
  constexpr char kPath[] = "/instance/attributes/taskcluster";
  RUNNER_ASSIGN_OR_RETURN(std::string body, Get(kPath));
  return ParseGoogleBootstrap(absl::StrCat("/computeMetadata/v1", kPath), body);
}

absl::StatusOr<std::string> GoogleMetadata::IdentityToken(absl::string_view audience) {
  return Get(absl::StrCat("/instance/service-accounts/default/identity?audience=", audience,
                          "&format=full"));
}

}  // namespace runner::providers::metadata
