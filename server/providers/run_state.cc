#include "server/providers/run_state.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace runner::providers {

absl::Status RunState::CheckComplete() const {
  const std::vector<std::pair<const char*, const std::string*>> required = {
      {"rootURL", &root_url},
      {"clientId", &credentials.client_id},
      {"workerPoolId", &worker_pool_id},
      {"workerGroup", &worker_group},
      {"workerId", &worker_id},
      {"providerId", &provider_id},
  };
  for (const auto& [name, value] : required) {
    if (value->empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("incomplete run state: ", name, " is not set"));
    }
  }
  if (absl::EndsWith(root_url, "/")) {
    return absl::FailedPreconditionError("incomplete run state: rootURL must not end with '/'");
  }
  auto cloud = worker_location.find("cloud");
  if (cloud == worker_location.end() || cloud->second.empty()) {
    return absl::FailedPreconditionError(
        "incomplete run state: workerLocation has no 'cloud' entry");
  }
  return absl::OkStatus();
}

nlohmann::json RunState::LocationJson() const {
  nlohmann::json location = nlohmann::json::object();
  for (const auto& [key, value] : worker_location) location[key] = value;
  return location;
}

}  // namespace runner::providers
