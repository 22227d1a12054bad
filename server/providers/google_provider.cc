#include "server/providers/google_provider.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "server/common/logger.h"
#include "server/common/status_util.h"

namespace runner::providers {
namespace {

constexpr char kComponent[] = "google";
constexpr char kPreempted[] = "TRUE";

}  // namespace

absl::StatusOr<std::unique_ptr<GoogleProvider>> GoogleProvider::Create(
    const config::ProviderConfig& /*config*/, GoogleProviderOptions options) {
  // Everything a Google worker needs comes from the instance; the runner file names only the
  // type.
  std::unique_ptr<GoogleProvider> provider(new GoogleProvider(options));
  metadata::MetadataClientOptions client_options = options.metadata;
  client_options.cancellation = provider->stop_ptr();
  RUNNER_ASSIGN_OR_RETURN(provider->metadata_,
                          metadata::GoogleMetadata::Create(std::move(client_options)));
  return provider;
}

GoogleProvider::GoogleProvider(GoogleProviderOptions options)
    : options_(std::move(options)),
      failures_(kComponent, options_.metadata.clock, options_.error_log_interval) {}

GoogleProvider::~GoogleProvider() { StopWatching(); }

absl::Status GoogleProvider::CheckNotPreempted() {
  // Only a clear "TRUE" stops the start; a service that cannot answer is found out by the
  // configuration calls that follow.
  auto response =
      metadata_->GetOnce(metadata::GoogleMetadata::kPreemptedPath, options_.check_timeout);
  if (response.ok() && response->status == 200 && response->body == kPreempted) {
    return absl::FailedPreconditionError(
        "instance is about to shutdown: google instance already preempted");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<nlohmann::json>> GoogleProvider::ConfigureRun(RunState* state) {
  RUNNER_RETURN_IF_ERROR(CheckNotPreempted());
  RUNNER_ASSIGN_OR_RETURN(std::string instance_id, metadata_->Get("/instance/id"));
  RUNNER_ASSIGN_OR_RETURN(metadata::GoogleBootstrap bootstrap, metadata_->Bootstrap());

  nlohmann::json metadata = {{"instance-id", instance_id}};
  const std::pair<const char*, const char*> required[] = {
      {"project-id", "/project/project-id"},
      {"image", "/instance/image"},
      {"instance-type", "/instance/machine-type"},
      {"public-hostname", "/instance/hostname"},
      {"local-ipv4", "/instance/network-interfaces/0/ip"},
  };
  for (const auto& [key, path] : required) {
    RUNNER_ASSIGN_OR_RETURN(std::string value, metadata_->Get(path));
    metadata[key] = std::move(value);
  }
  // A VM without an external address has no public-ipv4 (upstream fails the run instead).
  RUNNER_ASSIGN_OR_RETURN(
      std::optional<std::string> external_ip,
      metadata_->GetUnlessNotFound("/instance/network-interfaces/0/access-configs/0/external-ip"));
  if (external_ip.has_value()) metadata["public-ipv4"] = *external_ip;

  RUNNER_ASSIGN_OR_RETURN(std::string zone_value, metadata_->Get("/instance/zone"));
  RUNNER_ASSIGN_OR_RETURN(metadata::GoogleZone zone, metadata::ParseGoogleZone(zone_value));
  metadata["zone"] = zone.zone;
  metadata["region"] = zone.region;

  // The audience is the rootURL as the pool gave it: worker-manager checks it against its own.
  RUNNER_ASSIGN_OR_RETURN(std::string token, metadata_->IdentityToken(bootstrap.root_url));
  common::Logger::Default().AddSecret(token);

  state->root_url = NormalizeRootUrl(bootstrap.root_url);
  state->provider_id = bootstrap.provider_id;
  state->worker_pool_id = bootstrap.worker_pool_id;
  state->worker_group = bootstrap.worker_group;
  state->worker_id = instance_id;
  state->worker_location = {{"cloud", "google"}, {"region", zone.region}, {"zone", zone.zone}};
  state->provider_metadata = std::move(metadata);
  return std::optional<nlohmann::json>(nlohmann::json{{"token", token}});
}

absl::Status GoogleProvider::UseCachedRun(RunState* /*state*/) { return CheckNotPreempted(); }

void GoogleProvider::Watch(InterruptionSink* sink) {
  const std::string hanging_path =
      absl::StrCat(metadata::GoogleMetadata::kPreemptedPath, "?wait_for_change=true");
  absl::Duration backoff = options_.error_backoff;
  // The first request does not hang: a preemption between the start-up check and now is no
  // change any more, and a hanging request would wait past it.
  bool first = true;
  while (!stop().cancelled()) {
    absl::Time sent = absl::Now();
    auto response =
        first ? metadata_->GetOnce(metadata::GoogleMetadata::kPreemptedPath, options_.check_timeout)
              : metadata_->GetOnce(hanging_path, options_.hang_timeout);
    if (stop().cancelled()) break;

    if (response.ok() && response->status == 200) {
      first = false;
      backoff = options_.error_backoff;
      if (response->body == kPreempted) {
        Interruption notice;
        notice.source = "google";
        notice.kind = "preemption";
        common::LogWarning(kComponent, "termination imminent", {{"kind", notice.kind}});
        sink->OnInterruption(notice);
        // A preempted instance stays preempted: nothing more to watch.
        return;
      }
      // Pace a service that answers at once without waiting for a change.
      absl::Duration rest = options_.min_request_interval - (absl::Now() - sent);
      if (rest > absl::ZeroDuration() && stop().WaitForCancel(rest)) break;
      continue;
    }
    // The hanging request outlived its own limit: nothing changed, ask again.
    if (!first && response.status().code() == absl::StatusCode::kDeadlineExceeded) continue;

    failures_.Failure("interruption poll failed",
                      response.ok()
                          ? metadata::HttpStatusError("GET", hanging_path, response->status)
                          : response.status());
    if (stop().WaitForCancel(backoff)) break;
    backoff = std::min(backoff * 2, options_.max_error_backoff);
  }
}

}  // namespace runner::providers
