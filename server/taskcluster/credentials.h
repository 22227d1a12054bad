#ifndef RUNNER_SERVER_TASKCLUSTER_CREDENTIALS_H_
#define RUNNER_SERVER_TASKCLUSTER_CREDENTIALS_H_

#include <string>
#include <vector>

namespace runner::taskcluster {

// Taskcluster client credentials. An empty `certificate` means permanent credentials; otherwise it
// holds the temporary-credential certificate as the JSON text the service issued. An empty
// `authorized_scopes` means the caller does not restrict its scopes.
struct Credentials {
  std::string client_id;
  std::string access_token;
  std::string certificate;
  std::vector<std::string> authorized_scopes;
};

}  // namespace runner::taskcluster

#endif  // RUNNER_SERVER_TASKCLUSTER_CREDENTIALS_H_
