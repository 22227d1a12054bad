#ifndef RUNNER_TESTS_FAKES_TASKCLUSTER_FAKE_TASKCLUSTER_PROCESS_H_
#define RUNNER_TESTS_FAKES_TASKCLUSTER_FAKE_TASKCLUSTER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

#include "tests/fakes/process_util.h"

namespace runner::fakes {

// Runs tests/fakes/taskcluster/fake_taskcluster.js: a worker-manager and secrets fake on
// 127.0.0.1 that checks Hawk signatures with @hapi/hawk. The scenario (a JSON object) drives it:
//
//   clients                    {"<clientId>": "<accessToken>"} permanent credentials, or
//                              {"<clientId>": {"accessToken": "..", "certificate": {..} or ".."}}
//                              for temporary ones (the ext must carry an equal certificate)
//   secrets                    {"<name>": <any JSON>}: getSecret answers {"secret": <value>, ..}
//   forbiddenSecrets           ["<name>", ..]: getSecret answers 403 (checked before `secrets`)
//   workerConfig               returned by registerWorker when set
//   credentialLifetimeSeconds  expiry of issued credentials (default 3600)
//   workerSecrets              {"<pool>/<group>/<id>": "<secret>"}: accepted by reregisterWorker
//                              until the fake issues that worker a secret itself
//   providerId                 used in clientIds reissued to workers the fake never registered
//   responses                  {"<route>": [<entry>, ..]} with route one of registerWorker,
//                              reregisterWorker, removeWorker, reportWorkerError, getSecret.
//                              Entries are used in order, the last one repeating (a changed list
//                              starts over). An entry is {"status": 503, "body": <JSON>, "delayMs":
//                              0},
//                              {"status": 502, "rawBody": "<text, sent as is>"} or
//                              {"default": true, "delayMs": 0} for the unscripted behaviour.
//
// Authentication is checked before a script is consulted: registerWorker must carry no
// Authorization header (400), every other route needs a valid Hawk header (401 otherwise).
// Not thread-safe; use from the test's thread.
class FakeTaskclusterProcess {
 public:
  // Writes `scenario` and starts node. kFailedPrecondition when Node.js or
  // tests/fakes/hawk/node_modules is missing (the message names scripts/install-node-deps.sh);
  // kUnavailable when the fake does not report its port within 30 s.
  static absl::StatusOr<std::unique_ptr<FakeTaskclusterProcess>> Start(
      const nlohmann::json& scenario);

  ~FakeTaskclusterProcess();  // kills and reaps node, removes its files
  FakeTaskclusterProcess(const FakeTaskclusterProcess&) = delete;
  FakeTaskclusterProcess& operator=(const FakeTaskclusterProcess&) = delete;

  int port() const { return port_; }
  std::string root_url() const;  // "http://127.0.0.1:<port>"

  // Replaces the scenario atomically; the next request sees the new one.
  absl::Status SetScenario(const nlohmann::json& scenario);

  // Every request received so far, oldest first, each as
  //   {"method", "path" (escaped, as received), "query" (text after '?', or ""), "body" (parsed
  //    JSON or null), "authorization": bool, "hawkVerified": true/false/null (null: not checked),
  //    "hawkClientId": string/null, "hawkError": string/null, "certificateInExt": bool,
  //    "time": ISO 8601}.
  // A request is recorded before it is answered.
  std::vector<nlohmann::json> Requests() const;

  // What node wrote to stderr so far (for failure messages).
  std::string Stderr() const;

 private:
  FakeTaskclusterProcess() = default;

  absl::Status Launch(const std::string& node);

  test_support::TempDir dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace runner::fakes

#endif  // RUNNER_TESTS_FAKES_TASKCLUSTER_FAKE_TASKCLUSTER_PROCESS_H_
