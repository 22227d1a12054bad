#include "server/providers/azure_provider.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "server/common/logger.h"
#include "server/common/status_util.h"

namespace runner::providers {
namespace {

constexpr char kComponent[] = "azure";

using metadata::AzureScheduledEvent;

bool NamesVm(const AzureScheduledEvent& event, const std::string& vm_name) {
  for (const std::string& resource : event.resources) {
    // Azure resource names are case-insensitive.
    if (absl::EqualsIgnoreCase(resource, vm_name)) return true;
  }
  return false;
}

// The local and public address, when the VM has exactly one interface with exactly one IPv4
// address (which one to report is ambiguous otherwise).
void AddAddresses(const metadata::AzureInstance& instance, nlohmann::json* provider_metadata) {
  if (instance.interfaces.size() != 1 || instance.interfaces[0].size() != 1) {
    common::LogInfo(kComponent, "not reporting ip addresses",
                    {{"interfaces", instance.interfaces.size()}});
    return;
  }
  const metadata::AzureIpv4Address& address = instance.interfaces[0][0];
  if (!address.private_ip.empty()) (*provider_metadata)["local-ipv4"] = address.private_ip;
  // A VM without a public address has none to report: the key is left out, not empty.
  if (!address.public_ip.empty()) (*provider_metadata)["public-ipv4"] = address.public_ip;
}

}  // namespace

std::optional<Interruption> InterruptionForEvent(const AzureScheduledEvent& event,
                                                 const std::string& vm_name) {
  if (event.event_type == "Freeze" || !NamesVm(event, vm_name)) return std::nullopt;

  Interruption interruption;
  interruption.source = "azure";
  if (event.event_type == "Preempt") {
    interruption.kind = "preemption";
  } else if (event.event_type == "Terminate") {
    interruption.kind = "termination";
  } else {
    interruption.kind = absl::AsciiStrToLower(event.event_type);
    // Reboot and Redeploy bring the VM back; an unknown type is taken as the end, as upstream
    // treats every type but Freeze.
    interruption.terminates = event.event_type != "Reboot" && event.event_type != "Redeploy";
  }
  absl::StatusOr<std::optional<absl::Time>> deadline =
      metadata::ParseAzureEventTime(event.not_before);
  if (deadline.ok()) interruption.deadline = *deadline;
  return interruption;
}

absl::StatusOr<std::unique_ptr<AzureProvider>> AzureProvider::Create(AzureProviderOptions options) {
  metadata::MetadataClientOptions configure_options = options.metadata;
  configure_options.cancellation = nullptr;
  RUNNER_ASSIGN_OR_RETURN(std::unique_ptr<metadata::AzureMetadata> configure,
                          metadata::AzureMetadata::Create(configure_options));
  auto provider =
      std::unique_ptr<AzureProvider>(new AzureProvider(std::move(options), std::move(configure)));

  // The watcher's requests end as soon as StopWatching cancels.
  metadata::MetadataClientOptions watch_options = provider->options_.metadata;
  watch_options.cancellation = &provider->stop_watch_;
  RUNNER_ASSIGN_OR_RETURN(provider->watch_metadata_,
                          metadata::AzureMetadata::Create(watch_options));
  return provider;
}

AzureProvider::AzureProvider(AzureProviderOptions options,
                             std::unique_ptr<metadata::AzureMetadata> configure)
    : options_(std::move(options)),
      clock_(options_.metadata.clock),
      configure_metadata_(std::move(configure)) {}

AzureProvider::~AzureProvider() { StopWatching(); }

absl::StatusOr<std::optional<nlohmann::json>> AzureProvider::ConfigureRun(RunState* state) {
  RUNNER_ASSIGN_OR_RETURN(metadata::AzureInstance instance, configure_metadata_->Instance());
  RUNNER_ASSIGN_OR_RETURN(metadata::AzureAttestedDocument attested,
                          configure_metadata_->AttestedDocument());
  RUNNER_ASSIGN_OR_RETURN(metadata::AzureBootstrap bootstrap,
                          metadata::BootstrapFromTags(instance));

  state->root_url = bootstrap.root_url;
  state->worker_pool_id = bootstrap.worker_pool_id;
  state->provider_id = bootstrap.provider_id;
  state->worker_group = bootstrap.worker_group;
  state->worker_id = instance.name;
  state->worker_location = {{"cloud", "azure"}, {"region", instance.location}};
  state->provider_metadata = {{"vm-id", instance.vm_id},
                              {"instance-type", instance.vm_size},
                              {"region", instance.location}};
  AddAddresses(instance, &state->provider_metadata);
  vm_name_ = instance.name;

  RUNNER_RETURN_IF_ERROR(RefuseIfTerminating());
  return std::optional<nlohmann::json>(nlohmann::json{{"document", attested.signature}});
}

absl::Status AzureProvider::UseCachedRun(RunState* state) {
  vm_name_ = state->worker_id;
  return RefuseIfTerminating();
}

absl::Status AzureProvider::RefuseIfTerminating() {
  absl::StatusOr<metadata::AzureScheduledEvents> events =
      configure_metadata_->ScheduledEventsOnce(options_.startup_check_timeout);
  if (!events.ok()) {
    // The first request can take minutes while the service enables itself; the watcher asks
    // again once the worker runs.
    common::LogInfo(kComponent, "scheduled events not checked before start",
                    {{"error", std::string(events.status().message())}});
    return absl::OkStatus();
  }
  for (const AzureScheduledEvent& event : events->events) {
    std::optional<Interruption> interruption = InterruptionForEvent(event, vm_name_);
    if (interruption.has_value() && interruption->terminates) {
      return absl::FailedPreconditionError(
          absl::StrCat("azure: instance is about to shutdown: scheduled event ", event.event_id,
                       " (", event.event_type, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status AzureProvider::StartWatching(InterruptionSink* sink) {
  absl::MutexLock lock(&mu_);
  if (watch_started_) return absl::FailedPreconditionError("azure: already watched once");
  if (vm_name_.empty()) return absl::FailedPreconditionError("azure: run not configured");
  watch_started_ = true;
  watcher_ = std::thread([this, sink] { Watch(sink); });
  return absl::OkStatus();
}

void AzureProvider::StopWatching() {
  std::thread watcher;
  {
    absl::MutexLock lock(&mu_);
    watcher.swap(watcher_);
  }
  stop_watch_.Cancel();
  if (watcher.joinable()) watcher.join();
}

void AzureProvider::Watch(InterruptionSink* sink) {
  common::LogInfo(kComponent, "watching scheduled events", {{"vm", vm_name_}});
  while (true) {
    absl::Time started = absl::Now();
    absl::StatusOr<metadata::AzureScheduledEvents> events =
        watch_metadata_->ScheduledEventsOnce(options_.poll_timeout);
    if (stop_watch_.cancelled()) return;
    if (events.ok()) {
      Report(*events, sink);
    } else {
      LogWatchError(events.status());
    }

    // Start to start, so a slow answer is followed at once by the next request, never joined by
    // a second one.
    absl::Duration wait = started + options_.poll_interval - absl::Now();
    if (stop_watch_.WaitForCancel(std::max(wait, absl::ZeroDuration()))) return;
  }
}

void AzureProvider::Report(const metadata::AzureScheduledEvents& events, InterruptionSink* sink) {
  for (const AzureScheduledEvent& event : events.events) {
    std::optional<Interruption> interruption = InterruptionForEvent(event, vm_name_);
    if (!interruption.has_value()) {
      common::LogDebug(kComponent, "scheduled event ignored",
                       {{"event_id", event.event_id}, {"event_type", event.event_type}});
      continue;
    }
    if (!reported_.insert(event.event_id).second) continue;
    common::LogWarning(kComponent, "scheduled event",
                       {{"event_id", event.event_id},
                        {"event_type", event.event_type},
                        {"not_before", event.not_before},
                        {"terminates", interruption->terminates ? "true" : "false"}});
    sink->OnInterruption(*interruption);
  }
}

void AzureProvider::LogWatchError(const absl::Status& error) {
  absl::Time now = clock_->Now();
  if (last_error_log_.has_value() && now - *last_error_log_ < options_.error_log_interval) return;
  last_error_log_ = now;
  common::LogWarning(kComponent, "scheduled events unavailable",
                     {{"error", std::string(error.message())}});
}

}  // namespace runner::providers
