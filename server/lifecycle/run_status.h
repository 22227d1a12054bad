#ifndef RUNNER_SERVER_LIFECYCLE_RUN_STATUS_H_
#define RUNNER_SERVER_LIFECYCLE_RUN_STATUS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/providers/provider.h"
#include "server/providers/run_state.h"

namespace runner::lifecycle {

enum class RunPhase { kStarting, kStartingWorker, kRunning, kStopping };

// What the local API reports about the run. Holds no credentials.
struct StatusSnapshot {
  RunPhase phase = RunPhase::kStarting;
  std::string version;
  absl::Time started_at;
  absl::Time now;

  std::string provider_type;
  std::string provider_id;
  std::string root_url;
  std::string worker_pool_id;
  std::string worker_group;
  std::string worker_id;
  std::map<std::string, std::string> worker_location;
  std::optional<absl::Time> credentials_expire;

  std::string worker_implementation;
  int worker_pid = 0;
  bool protocol_negotiated = false;
  std::vector<std::string> capabilities;
  bool worker_exited = false;
  int worker_exit_status = 0;

  std::optional<providers::Interruption> interruption;
  std::optional<absl::Time> interruption_detected_at;
};

// The run's public status, written by the lifecycle and read by API calls. Thread-safe; never
// held across I/O.
class RunStatus {
 public:
  RunStatus(std::string version, absl::Time started_at);

  StatusSnapshot Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);

  void SetPhase(RunPhase phase) ABSL_LOCKS_EXCLUDED(mu_);
  void SetProviderType(const std::string& type) ABSL_LOCKS_EXCLUDED(mu_);
  void SetWorkerImplementation(const std::string& implementation) ABSL_LOCKS_EXCLUDED(mu_);
  // Copies the identity part of `state` (never its credentials).
  void SetIdentity(const providers::RunState& state) ABSL_LOCKS_EXCLUDED(mu_);
  // After a credential renewal: the new expiry.
  void SetCredentialsExpire(absl::Time expires) ABSL_LOCKS_EXCLUDED(mu_);
  void SetWorkerStarted(int pid) ABSL_LOCKS_EXCLUDED(mu_);
  void SetNegotiated(const std::vector<std::string>& capabilities) ABSL_LOCKS_EXCLUDED(mu_);
  void SetWorkerExited(int exit_status) ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps the first interruption of the run, except that the first terminating notice replaces
  // an advisory one; later ones are ignored.
  void RecordInterruption(const providers::Interruption& interruption, absl::Time detected_at)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  StatusSnapshot snapshot_ ABSL_GUARDED_BY(mu_);
};

const char* RunPhaseName(RunPhase phase);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_RUN_STATUS_H_
