#include "server/providers/aws_provider.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

#include "server/common/logger.h"
#include "server/common/status_util.h"

namespace runner::providers {
namespace {

constexpr char kComponent[] = "aws";
constexpr char kInstanceActionPath[] = "/meta-data/spot/instance-action";
constexpr char kTerminationTimePath[] = "/meta-data/spot/termination-time";
constexpr char kRebalancePath[] = "/meta-data/events/recommendations/rebalance";
constexpr char kMaintenancePath[] = "/meta-data/events/maintenance/scheduled";

std::optional<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return std::nullopt;
  return time;
}

// Scheduled events name their times like "21 Jan 2019 09:00:43 GMT".
std::optional<absl::Time> ParseEventTime(absl::string_view text) {
  absl::Time time;
  std::string error;
  if (!absl::ParseTime("%d %b %Y %H:%M:%S GMT", text, &time, &error)) return std::nullopt;
  return time;
}

std::string StringField(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

Interruption ParseSpotInstanceAction(const std::string& body) {
  Interruption notice;
  notice.source = "aws";
  notice.kind = "spot-termination";
  nlohmann::json object = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return notice;
  std::string action = StringField(object, "action");
  if (action == "stop" || action == "hibernate") notice.kind = absl::StrCat("spot-", action);
  notice.deadline = ParseRfc3339(StringField(object, "time"));
  return notice;
}

Interruption ParseSpotTerminationTime(const std::string& body) {
  Interruption notice;
  notice.source = "aws";
  notice.kind = "spot-termination";
  notice.deadline = ParseRfc3339(body);
  return notice;
}

absl::StatusOr<std::vector<std::pair<std::string, Interruption>>> ParseScheduledMaintenance(
    const std::string& body) {
  nlohmann::json events = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!events.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("aws metadata /latest", kMaintenancePath, ": not a JSON array"));
  }
  std::vector<std::pair<std::string, Interruption>> found;
  for (const nlohmann::json& event : events) {
    if (!event.is_object()) continue;
    std::string state = StringField(event, "State");
    if (state == "completed" || state == "canceled") continue;
    std::string code = StringField(event, "Code");
    Interruption notice;
    notice.source = "aws";
    notice.kind = code.empty() ? "scheduled-maintenance" : "scheduled-maintenance:" + code;
    notice.deadline = ParseEventTime(StringField(event, "NotBefore"));
    notice.terminates = false;
    std::string id = StringField(event, "EventId");
    found.emplace_back(id.empty() ? event.dump() : id, std::move(notice));
  }
  return found;
}

absl::StatusOr<std::unique_ptr<AwsProvider>> AwsProvider::Create(
    const config::ProviderConfig& /*config*/, AwsProviderOptions options) {
  // Everything an AWS worker needs comes from the instance; the runner file names only the type.
  std::unique_ptr<AwsProvider> provider(new AwsProvider(options));
  metadata::MetadataClientOptions client_options = options.metadata;
  client_options.cancellation = provider->stop_ptr();
  RUNNER_ASSIGN_OR_RETURN(provider->imds_, metadata::AwsImds::Create(std::move(client_options)));
  return provider;
}

AwsProvider::AwsProvider(AwsProviderOptions options)
    : options_(std::move(options)),
      failures_(kComponent, options_.metadata.clock, options_.error_log_interval) {}

AwsProvider::~AwsProvider() { StopWatching(); }

absl::Status AwsProvider::CheckNoTerminationScheduled() {
  RUNNER_ASSIGN_OR_RETURN(std::optional<std::string> time, imds_->SpotTerminationTime());
  if (time.has_value()) {
    return absl::FailedPreconditionError(
        "instance is about to shutdown: aws spot termination already scheduled");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<nlohmann::json>> AwsProvider::ConfigureRun(RunState* state) {
  RUNNER_RETURN_IF_ERROR(CheckNoTerminationScheduled());
  RUNNER_ASSIGN_OR_RETURN(metadata::AwsUserData user_data, imds_->UserData());
  RUNNER_ASSIGN_OR_RETURN(metadata::AwsIdentityDocument document, imds_->IdentityDocument());
  RUNNER_ASSIGN_OR_RETURN(std::string signature, imds_->IdentitySignature());
  RUNNER_ASSIGN_OR_RETURN(std::optional<std::string> public_hostname, imds_->PublicHostname());
  RUNNER_ASSIGN_OR_RETURN(std::optional<std::string> public_ipv4, imds_->PublicIpv4());

  state->root_url = NormalizeRootUrl(user_data.root_url);
  state->provider_id = user_data.provider_id;
  state->worker_pool_id = user_data.worker_pool_id;
  state->worker_group = user_data.worker_group;
  state->worker_id = document.instance_id;
  state->worker_location = {{"cloud", "aws"},
                            {"region", document.region},
                            {"availabilityZone", document.availability_zone}};

  nlohmann::json metadata = {
      {"instance-id", document.instance_id},
      {"image", document.image_id},
      {"instance-type", document.instance_type},
      {"region", document.region},
      {"availability-zone", document.availability_zone},
      {"local-ipv4", document.private_ip},
  };
  // An instance without a public address has neither key (upstream fails the run instead).
  if (public_hostname.has_value()) metadata["public-hostname"] = *public_hostname;
  if (public_ipv4.has_value()) metadata["public-ipv4"] = *public_ipv4;
  state->provider_metadata = std::move(metadata);

  // worker-manager checks the signature over the document's exact bytes.
  return std::optional<nlohmann::json>(
      nlohmann::json{{"document", document.raw}, {"signature", signature}});
}

absl::Status AwsProvider::UseCachedRun(RunState* /*state*/) {
  return CheckNoTerminationScheduled();
}

void AwsProvider::Watch(InterruptionSink* sink) {
  common::LogDebug(kComponent, "interruption watch started",
                   {{"interval_ms", absl::ToInt64Milliseconds(options_.poll_interval)}});
  do {
    PollOnce(sink);
  } while (!stop().WaitForCancel(options_.poll_interval));
}

void AwsProvider::PollOnce(InterruptionSink* sink) {
  if (!termination_reported_) PollSpot(sink);
  if (stop().cancelled()) return;
  PollRebalance(sink);
  if (stop().cancelled()) return;
  PollMaintenance(sink);
}

void AwsProvider::PollSpot(InterruptionSink* sink) {
  // instance-action is the newer notice and carries the action; termination-time is the older
  // one, still given on its own by some instances. Both may appear between two requests, so a
  // termination-time is followed by one more look at instance-action for the action.
  std::optional<Interruption> notice;
  if (auto action = Fetch(kInstanceActionPath)) {
    notice = ParseSpotInstanceAction(*action);
  } else if (auto time = Fetch(kTerminationTimePath)) {
    auto late_action = Fetch(kInstanceActionPath);
    notice = late_action.has_value() ? ParseSpotInstanceAction(*late_action)
                                     : ParseSpotTerminationTime(*time);
  }
  if (!notice.has_value()) return;

  termination_reported_ = true;
  common::LogWarning(kComponent, "termination imminent", {{"kind", notice->kind}});
  sink->OnInterruption(*notice);
}

void AwsProvider::PollRebalance(InterruptionSink* sink) {
  std::optional<std::string> body = Fetch(kRebalancePath);
  if (!body.has_value()) return;
  Interruption notice;
  notice.source = "aws";
  notice.kind = "rebalance-recommendation";
  notice.terminates = false;
  nlohmann::json object = nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (object.is_object()) notice.deadline = ParseRfc3339(StringField(object, "noticeTime"));
  // Each recommendation has its own notice time, so the body tells them apart.
  ReportOnce(absl::StrCat("rebalance:", *body), notice, sink);
}

void AwsProvider::PollMaintenance(InterruptionSink* sink) {
  std::optional<std::string> body = Fetch(kMaintenancePath);
  if (!body.has_value()) return;
  auto events = ParseScheduledMaintenance(*body);
  if (!events.ok()) {
    failures_.Failure("interruption poll failed", events.status());
    return;
  }
  for (const auto& [id, notice] : *events)
    ReportOnce(absl::StrCat("maintenance:", id), notice, sink);
}

std::optional<std::string> AwsProvider::Fetch(absl::string_view path) {
  absl::StatusOr<metadata::MetadataResponse> response = imds_->GetOnce(path);
  if (stop().cancelled()) return std::nullopt;
  if (!response.ok()) {
    failures_.Failure("interruption poll failed", response.status());
    return std::nullopt;
  }
  if (response->status == 200) return std::move(response->body);
  if (response->status != 404) {
    failures_.Failure(
        "interruption poll failed",
        metadata::HttpStatusError("GET", absl::StrCat("/latest", path), response->status));
  }
  return std::nullopt;
}

void AwsProvider::ReportOnce(const std::string& key, const Interruption& interruption,
                             InterruptionSink* sink) {
  if (!reported_.insert(key).second) return;
  common::LogInfo(kComponent, "advisory event", {{"kind", interruption.kind}});
  sink->OnInterruption(interruption);
}

}  // namespace runner::providers
