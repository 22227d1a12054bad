#include "server/lifecycle/worker_config.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "server/common/json_merge.h"
#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/lifecycle/redacted_config.h"

namespace runner::lifecycle {
namespace {

constexpr char kComponent[] = "worker-config";

// Fields of a file entry; each must be a string when present (worker-config spec §5).
constexpr const char* kFileEntryFields[] = {"description", "path", "content", "encoding", "format"};

// Appends each element of the array `files` to the run's file list.
void AppendFiles(const nlohmann::json& files, providers::RunState* state) {
  if (!state->files.is_array()) state->files = nlohmann::json::array();
  for (const nlohmann::json& entry : files) state->files.push_back(entry);
}

// The body of the structured pool form `{"config": ..., "files": ...}`. Members other than these
// two are ignored. A null `config` or `files` counts as absent. A `config` that is not an object
// is refused rather than merged: merging it would replace the whole configuration with a scalar,
// which no worker can start from, so it is the same mistake as a non-object `workerConfig`.
absl::Status ApplyStructuredPoolConfig(const nlohmann::json& body, absl::string_view member,
                                       providers::RunState* state) {
  if (body.is_null()) return absl::OkStatus();
  if (!body.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("pool workerConfig: ", member, " is a JSON ",
                                                   body.type_name(), ", not an object"));
  }

  auto config = body.find("config");
  bool has_config = config != body.end() && !config->is_null();
  if (has_config && !config->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("pool workerConfig: ", member,
                                                   ".config is a JSON ", config->type_name(),
                                                   ", not an object"));
  }
  auto files = body.find("files");
  bool has_files = files != body.end() && !files->is_null();
  if (has_files && !files->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pool workerConfig: ", member, ".files is a JSON ", files->type_name(), ", not an array"));
  }

  if (has_config) state->worker_config = common::MergeJson(state->worker_config, *config);
  if (has_files) AppendFiles(*files, state);
  return absl::OkStatus();
}

// True when `entry` can be a file entry: an object whose known fields are strings. Unknown
// members are tolerated; ExtractFiles reads only the known ones.
bool IsFileEntry(const nlohmann::json& entry) {
  if (!entry.is_object()) return false;
  for (const char* field : kFileEntryFields) {
    auto value = entry.find(field);
    if (value != entry.end() && !value->is_string()) return false;
  }
  return true;
}

// True when `secret` (an object) is in the structured form of §4: no members other than `config`
// (an object) and `files` (an array of file entries). A null `config` or `files` counts as absent,
// as it carries nothing either way.
bool IsStructuredSecret(const nlohmann::json& secret) {
  for (const auto& [key, value] : secret.items()) {
    if (value.is_null() && (key == "config" || key == "files")) continue;
    if (key == "config") {
      if (!value.is_object()) return false;
    } else if (key == "files") {
      if (!value.is_array()) return false;
      for (const nlohmann::json& entry : value) {
        if (!IsFileEntry(entry)) return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

// Makes sure a failed read names the secret. The client's message normally does already; only
// add the name when it is missing, so it is not repeated.
absl::Status NameSecret(const absl::Status& status, const std::string& name) {
  if (absl::StrContains(status.message(), name)) return status;
  return common::Annotate(status, absl::StrCat("read secret ", name));
}

}  // namespace

std::string CamelCaseImplementation(absl::string_view implementation) {
  std::string camel;
  camel.reserve(implementation.size());
  for (size_t i = 0; i < implementation.size(); ++i) {
    char c = implementation[i];
    if (c == '-' && i + 1 < implementation.size() && absl::ascii_islower(implementation[i + 1])) {
      camel.push_back(absl::ascii_toupper(implementation[i + 1]));
      ++i;
    } else {
      camel.push_back(c);
    }
  }
  return camel;
}

absl::Status ApplyPoolWorkerConfig(const nlohmann::json& worker_config,
                                   const std::string& implementation, providers::RunState* state) {
  if (worker_config.is_null()) return absl::OkStatus();
  if (!worker_config.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("pool workerConfig: is a JSON ",
                                                   worker_config.type_name(), ", not an object"));
  }

  // Only an object whose single member is named after this implementation is structured; a
  // member named after another implementation is ordinary (flat) configuration.
  std::string member = CamelCaseImplementation(implementation);
  if (worker_config.size() == 1 && worker_config.contains(member)) {
    return ApplyStructuredPoolConfig(worker_config.at(member), member, state);
  }

  common::LogDebug(kComponent, "pool workerConfig is in flat form",
                   {{"implementation", implementation}});
  state->worker_config = common::MergeJson(state->worker_config, worker_config);
  return absl::OkStatus();
}

absl::Status ApplySecret(const nlohmann::json& secret, const std::string& name,
                         providers::RunState* state) {
  if (!secret.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("apply secret ", name, ": secret value is not a JSON object"));
  }

  // A secret with only `config`/`files` members is meant to be structured. Upstream would fall
  // back to reading it as legacy configuration and hand the worker a stray `config` key, which
  // generic-worker refuses; say what is wrong instead.
  bool only_structured_keys =
      !secret.empty() &&
      std::all_of(secret.items().begin(), secret.items().end(),
                  [](const auto& item) { return item.key() == "config" || item.key() == "files"; });
  auto config_member = secret.find("config");
  if (only_structured_keys && config_member != secret.end() && !config_member->is_object() &&
      !config_member->is_null()) {
    return absl::InvalidArgumentError(
        absl::StrCat("apply secret ", name, ": config is not a JSON object"));
  }
  auto files_member = secret.find("files");
  if (only_structured_keys && files_member != secret.end() && !files_member->is_array() &&
      !files_member->is_null()) {
    return absl::InvalidArgumentError(
        absl::StrCat("apply secret ", name, ": files is not a JSON array"));
  }

  if (!IsStructuredSecret(secret)) {
    common::LogInfo(kComponent, "secret is not in structured form, using it as configuration",
                    {{"secret", name}});
    state->worker_config = common::MergeJson(state->worker_config, secret);
    CollectLeafPaths(secret, "", &state->secret_config_paths);
    return absl::OkStatus();
  }

  auto config = secret.find("config");
  if (config != secret.end() && config->is_object()) {
    state->worker_config = common::MergeJson(state->worker_config, *config);
    CollectLeafPaths(*config, "", &state->secret_config_paths);
  }
  // Secret files are supported (the spec's recommendation); they follow the pool's files.
  auto files = secret.find("files");
  if (files != secret.end() && files->is_array()) AppendFiles(*files, state);
  return absl::OkStatus();
}

absl::Status LoadSecrets(taskcluster::SecretsClient* secrets, providers::RunState* state) {
  const std::string deprecated_name = absl::StrCat("worker-type:", state->worker_pool_id);
  const std::string name = absl::StrCat("worker-pool:", state->worker_pool_id);

  bool found = false;
  for (const std::string* secret_name : {&deprecated_name, &name}) {
    absl::StatusOr<nlohmann::json> secret = secrets->GetSecret(state->credentials, *secret_name);
    if (absl::IsNotFound(secret.status())) {
      common::LogDebug(kComponent, "secret does not exist", {{"secret", *secret_name}});
      continue;
    }
    // Pools often may not read the deprecated name at all; that is not a reason to stop.
    if (absl::IsPermissionDenied(secret.status()) && secret_name == &deprecated_name) {
      common::LogDebug(kComponent, "secret is not readable, skipping", {{"secret", *secret_name}});
      continue;
    }
    if (!secret.ok()) return NameSecret(secret.status(), *secret_name);

    found = true;
    RUNNER_RETURN_IF_ERROR(ApplySecret(*secret, *secret_name, state));
  }

  if (!found) {
    common::LogWarning(kComponent, "worker pool has no secrets",
                       {{"worker_pool", state->worker_pool_id}});
  }
  return absl::OkStatus();
}

}  // namespace runner::lifecycle
