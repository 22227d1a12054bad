#ifndef RUNNER_SERVER_PROVIDERS_RUN_STATE_H_
#define RUNNER_SERVER_PROVIDERS_RUN_STATE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "server/taskcluster/credentials.h"

namespace runner::providers {

// Everything one run knows about the worker: who it is, its credentials, where it runs and the
// configuration it will be given. Filled by the provider, registration and secrets, then read by
// the worker implementation. A plain value; the lifecycle owns the one instance of a run.
struct RunState {
  std::string root_url;
  std::string provider_id;
  std::string worker_pool_id;
  std::string worker_group;
  std::string worker_id;

  taskcluster::Credentials credentials;
  // Unset for credentials that do not expire (standalone).
  std::optional<absl::Time> credentials_expire;
  // One-time secret for reregisterWorker; empty when the run did not register.
  std::string registration_secret;

  // Always has "cloud" once a provider configured the run.
  std::map<std::string, std::string> worker_location;
  nlohmann::json provider_metadata = nlohmann::json::object();
  nlohmann::json worker_config = nlohmann::json::object();
  // JSON pointers into worker_config of the values that came from the secrets service (a whole
  // array when a secret added to it); the API redacts them.
  std::vector<std::string> secret_config_paths;
  // File entries to write before the worker starts (see the worker-config spec).
  nlohmann::json files = nlohmann::json::array();

  // The sanity check after the provider: every identity field set, rootURL without a trailing
  // '/', and a `cloud` in the location. kFailedPrecondition naming the first missing field.
  absl::Status CheckComplete() const;

  // worker_location as a JSON object.
  nlohmann::json LocationJson() const;
};

}  // namespace runner::providers

#endif  // RUNNER_SERVER_PROVIDERS_RUN_STATE_H_
