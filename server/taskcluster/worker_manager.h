#ifndef RUNNER_SERVER_TASKCLUSTER_WORKER_MANAGER_H_
#define RUNNER_SERVER_TASKCLUSTER_WORKER_MANAGER_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "server/taskcluster/credentials.h"
#include "server/taskcluster/http_client.h"

namespace runner::taskcluster {

// Who a worker is, as worker-manager knows it.
struct WorkerIdentity {
  std::string worker_pool_id;
  std::string worker_group;
  std::string worker_id;
};

// What registerWorker and reregisterWorker hand out.
struct IssuedCredentials {
  Credentials credentials;  // certificate empty when the response had none
  absl::Time expires;
  std::string secret;  // the one-time secret for the next reregisterWorker
  // registerWorker only: the pool's workerConfig as sent (null when absent).
  nlohmann::json worker_config;
};

// A report for reportWorkerError (the worker's `error-report` message).
struct WorkerErrorReport {
  std::string kind;
  std::string title;
  std::string description;
  nlohmann::json extra = nlohmann::json::object();
};

// The worker-manager calls the runner makes. Thread-safe (the client serialises calls). Every
// call blocks for up to the client's retry budget. Errors carry the client's codes (see
// HttpClient::Call); a 2xx response without the fields the runner needs is kInvalidArgument
// naming the missing field.
class WorkerManager {
 public:
  // `client` is not owned and must outlive this object.
  explicit WorkerManager(HttpClient* client) : client_(client) {}

  // POST worker/register, unauthenticated. `system_boot_time` is sent (whole seconds, UTC) when
  // known. The returned certificate, when present, was checked to be a JSON object.
  absl::StatusOr<IssuedCredentials> RegisterWorker(const WorkerIdentity& worker,
                                                   const std::string& provider_id,
                                                   const nlohmann::json& identity_proof,
                                                   std::optional<absl::Time> system_boot_time);

  // POST worker/reregister with the current credentials and the last secret.
  absl::StatusOr<IssuedCredentials> ReregisterWorker(const Credentials& current,
                                                     const WorkerIdentity& worker,
                                                     const std::string& secret);

  // DELETE workers/<pool>/<group>/<id> (each segment escaped).
  absl::Status RemoveWorker(const Credentials& current, const WorkerIdentity& worker);

  // POST worker-pool-errors/<pool> with the worker's group and id added to the report.
  absl::Status ReportWorkerError(const Credentials& current, const WorkerIdentity& worker,
                                 const WorkerErrorReport& report);

 private:
  HttpClient* client_;  // not owned
};

// The secrets service's get call. Thread-safe.
class SecretsClient {
 public:
  // `client` is not owned and must outlive this object.
  explicit SecretsClient(HttpClient* client) : client_(client) {}

  // GET secret/<name> (escaped). Returns the `secret` member of the response (any JSON), or
  // kNotFound for 404 and the client's other codes otherwise. A 2xx body without `secret` is
  // kInvalidArgument.
  absl::StatusOr<nlohmann::json> GetSecret(const Credentials& credentials, const std::string& name);

 private:
  HttpClient* client_;  // not owned
};

// The host's boot time (Linux: `btime` of /proc/stat), nullopt when it cannot be read.
std::optional<absl::Time> SystemBootTime();

// RFC 3339 with milliseconds in UTC, as Taskcluster sends it: 2026-05-04T10:11:12.000Z.
std::string FormatTaskclusterTime(absl::Time time);
// Any RFC 3339 timestamp; kInvalidArgument otherwise.
absl::StatusOr<absl::Time> ParseTaskclusterTime(absl::string_view text);

}  // namespace runner::taskcluster

#endif  // RUNNER_SERVER_TASKCLUSTER_WORKER_MANAGER_H_
