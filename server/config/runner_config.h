#ifndef RUNNER_SERVER_CONFIG_RUNNER_CONFIG_H_
#define RUNNER_SERVER_CONFIG_RUNNER_CONFIG_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace runner::config {

// `provider:` of the runner config. Only the keys of `provider_type` are filled; every string
// was a YAML string in the file. Trailing '/' characters are already stripped from root_url.
struct ProviderConfig {
  std::string provider_type;  // aws | azure | google | static | standalone
  std::string root_url;
  std::string client_id;
  std::string access_token;
  std::string provider_id;
  std::string worker_pool_id;
  std::string worker_group;
  std::string worker_id;
  std::string static_secret;
  // Extra location keys from the file (merged over {"cloud": <provider_type>} by the provider).
  std::map<std::string, std::string> worker_location;
  nlohmann::json provider_metadata = nlohmann::json::object();
};

// `worker:` of the runner config.
struct WorkerSettings {
  std::string implementation;  // generic-worker | dummy | external
  std::string path;            // generic-worker: executable to spawn
  std::string config_path;     // generic-worker: where its JSON config is written
  std::string service;         // generic-worker on Windows only
  std::string protocol_pipe;   // generic-worker on Windows only
};

struct LoggingConfig {
  std::string implementation = "stdio";
};

// Our own `api:` key (see the spec's extensions).
struct ApiConfig {
  std::string socket = "/run/worker-runner/api.sock";
  std::string group;  // optional group allowed to read status and events
};

// Our own `shutdown:` key.
struct ShutdownConfig {
  std::vector<std::string> command = {"/usr/sbin/shutdown", "-h", "now"};
  // `shutdown.gracePeriod`: after SIGTERM/SIGINT, how long the worker gets to exit after
  // graceful-termination before it is sent SIGTERM.
  absl::Duration grace_period = absl::Seconds(30);
};

// A validated runner config file.
struct RunnerConfig {
  std::string file;  // the path it was read from, for messages
  ProviderConfig provider;
  WorkerSettings worker;
  nlohmann::json worker_config = nlohmann::json::object();
  LoggingConfig logging;
  bool get_secrets = true;
  std::string cache_over_restarts;  // empty: off
  ApiConfig api;
  ShutdownConfig shutdown;
};

// Reads the runner config at `path`: makes the file private first (owner-only mode, refusing
// symlinks, non-regular files and files owned by someone else), then parses and validates it.
// Errors: kInvalidArgument for bad content (the message names the file, the line and the key path
// and says what was expected); kNotFound, kPermissionDenied or kFailedPrecondition for file access
// problems. Never puts configuration values in a message. Logs a warning when it tightened modes.
absl::StatusOr<RunnerConfig> LoadRunnerConfig(const std::string& path);

// `shutdown.gracePeriod` text: a whole number of seconds ("45") or a duration ("30s", "5m",
// "1h30m", "1.5s"). nullopt for anything else, negative or infinite durations included.
std::optional<absl::Duration> ParseGracePeriod(absl::string_view text);

// Parses and validates config text, with `file` used only in messages. No file access.
absl::StatusOr<RunnerConfig> ParseRunnerConfig(absl::string_view text, absl::string_view file);

}  // namespace runner::config

#endif  // RUNNER_SERVER_CONFIG_RUNNER_CONFIG_H_
