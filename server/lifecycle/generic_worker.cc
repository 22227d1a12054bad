#include "server/lifecycle/generic_worker.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "server/common/files.h"
#include "server/common/json_merge.h"
#include "server/common/logger.h"
#include "server/common/status_util.h"

namespace runner::lifecycle {
namespace {

// generic-worker config key <- provider metadata key.
constexpr std::pair<const char*, const char*> kMetadataKeys[] = {
    {"publicIP", "public-ipv4"},
    {"privateIP", "local-ipv4"},
    {"instanceType", "instance-type"},
    {"instanceID", "instance-id"},
    {"region", "region"},
    {"availabilityZone", "availability-zone"},
};

}  // namespace

absl::Status DeriveGenericWorkerConfig(providers::RunState* state) {
  nlohmann::json& config = state->worker_config;
  if (!config.is_object()) config = nlohmann::json::object();
  const nlohmann::json& metadata = state->provider_metadata;

  for (const auto& [config_key, metadata_key] : kMetadataKeys) {
    auto value = metadata.is_object() ? metadata.find(metadata_key) : metadata.end();
    if (metadata.is_object() && value != metadata.end()) {
      config[config_key] = *value;
    } else {
      common::LogDebug("generic-worker", "provider metadata has no value", {{"key", metadata_key}});
    }
  }

  // generic-worker takes the location as a JSON string, not an object.
  config["workerLocation"] = state->LocationJson().dump();

  nlohmann::json type_metadata = {
      {"workerTypeMetadata", metadata.is_object() ? metadata : nlohmann::json::object()}};
  config = common::MergeJson(config, type_metadata);

  const std::string& pool = state->worker_pool_id;
  size_t slash = pool.find('/');
  if (slash == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "derive generic-worker config: workerPoolId has no '/' to split into provisionerId and "
        "workerType"));
  }
  config["provisionerId"] = pool.substr(0, slash);
  config["workerType"] = pool.substr(slash + 1);

  config["rootURL"] = state->root_url;
  config["workerGroup"] = state->worker_group;
  config["workerId"] = state->worker_id;
  config["clientId"] = state->credentials.client_id;
  config["accessToken"] = state->credentials.access_token;
  // A certificate given in the worker config is kept when the credentials have none.
  if (!state->credentials.certificate.empty()) {
    config["certificate"] = state->credentials.certificate;
  }
  return absl::OkStatus();
}

void SetGenericWorkerCredentials(const taskcluster::Credentials& credentials,
                                 nlohmann::json* config) {
  if (!config->is_object()) *config = nlohmann::json::object();
  (*config)["clientId"] = credentials.client_id;
  (*config)["accessToken"] = credentials.access_token;
  if (credentials.certificate.empty()) {
    config->erase("certificate");
  } else {
    (*config)["certificate"] = credentials.certificate;
  }
}

std::string RenderGenericWorkerConfig(const nlohmann::json& config) {
  return config.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> GenericWorkerArgv(const config::WorkerSettings& settings) {
  return {settings.path, "run", "--config", settings.config_path, "--with-worker-runner"};
}

absl::Status GenericWorker::ConfigureRun(providers::RunState* state) {
  return DeriveGenericWorkerConfig(state);
}

absl::Status GenericWorker::UseCachedRun(providers::RunState* state) {
  // The cached config holds the credentials of the first start; the run's may be newer.
  SetGenericWorkerCredentials(state->credentials, &state->worker_config);
  return absl::OkStatus();
}

absl::Status GenericWorker::UpdateCredentials(providers::RunState* state) {
  SetGenericWorkerCredentials(state->credentials, &state->worker_config);
  RUNNER_RETURN_IF_ERROR(
      common::Annotate(common::WritePrivateFileAtomically(
                           settings_.config_path, RenderGenericWorkerConfig(state->worker_config)),
                       "rewrite generic-worker config with renewed credentials"));
  common::LogInfo("generic-worker", "wrote renewed credentials into worker config",
                  {{"file", settings_.config_path}});
  return absl::OkStatus();
}

absl::StatusOr<StartedWorker> GenericWorker::Start(const providers::RunState& state) {
  RUNNER_RETURN_IF_ERROR(
      common::Annotate(common::WritePrivateFileAtomically(
                           settings_.config_path, RenderGenericWorkerConfig(state.worker_config)),
                       "write generic-worker config"));
  common::LogInfo("generic-worker", "wrote worker config", {{"file", settings_.config_path}});

  auto process = adapter::Subprocess::Spawn(GenericWorkerArgv(settings_));
  if (!process.ok()) return process.status();
  StartedWorker started;
  started.process = std::move(process).value();
  return started;
}

}  // namespace runner::lifecycle
