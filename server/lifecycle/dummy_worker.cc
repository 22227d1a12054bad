#include "server/lifecycle/dummy_worker.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

#include "server/common/logger.h"
#include "server/lifecycle/attached_worker.h"
#include "server/lifecycle/generic_worker.h"

namespace runner::lifecycle {
namespace {

constexpr char kRedacted[] = "[redacted]";

std::string RedactIfSet(const std::string& value) { return value.empty() ? "" : kRedacted; }

}  // namespace

nlohmann::json RedactedRunState(const providers::RunState& state) {
  nlohmann::json config = state.worker_config;
  if (config.is_object()) {
    for (const char* key : {"accessToken", "certificate"}) {
      if (config.contains(key)) config[key] = kRedacted;
    }
  }
  return {
      {"rootURL", state.root_url},
      {"providerId", state.provider_id},
      {"workerPoolId", state.worker_pool_id},
      {"workerGroup", state.worker_group},
      {"workerId", state.worker_id},
      {"credentials",
       {{"clientId", state.credentials.client_id},
        {"accessToken", RedactIfSet(state.credentials.access_token)},
        {"certificate", RedactIfSet(state.credentials.certificate)}}},
      {"credentialsExpire",
       state.credentials_expire.has_value()
           ? absl::FormatTime(absl::RFC3339_full, *state.credentials_expire, absl::UTCTimeZone())
           : ""},
      {"registrationSecret", RedactIfSet(state.registration_secret)},
      {"workerLocation", state.LocationJson()},
      {"providerMetadata", state.provider_metadata},
      {"workerConfig", config},
      {"files", state.files.size()},
  };
}

absl::StatusOr<StartedWorker> DummyWorker::Start(const providers::RunState& state) {
  common::Logger::Default().Log(common::LogLevel::kInfo, "dummy",
                                absl::StrCat("run state ", RedactedRunState(state).dump()));
  return StartedWorker{};
}

absl::StatusOr<std::unique_ptr<WorkerImpl>> MakeWorkerImpl(const config::WorkerSettings& settings) {
  if (settings.implementation == "generic-worker") {
    if (settings.path.empty()) {
      // TODO: Windows service mode (worker.service) needs the Windows service manager and named
      // pipes; it is refused at config load on other systems, so this is reached only there.
      return absl::UnimplementedError("generic-worker: only worker.path (child process) is built");
    }
    return std::make_unique<GenericWorker>(settings);
  }
  if (settings.implementation == "dummy") return std::make_unique<DummyWorker>();
  if (settings.implementation == kExternalImplementation) return std::make_unique<ExternalWorker>();
  if (settings.implementation.empty()) {
    return absl::InvalidArgumentError("no worker implementation given");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unrecognized worker implementation: ", settings.implementation));
}

}  // namespace runner::lifecycle
