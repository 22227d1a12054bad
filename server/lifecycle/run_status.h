#ifndef RUNNER_SERVER_LIFECYCLE_RUN_STATUS_H_
#define RUNNER_SERVER_LIFECYCLE_RUN_STATUS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "server/lifecycle/event_log.h"
#include "server/providers/provider.h"
#include "server/providers/run_state.h"

namespace runner::lifecycle {

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

// The worker configuration as the API shows it: secret values replaced.
struct RedactedConfig {
  nlohmann::json config;
  // JSON pointers of the replaced values, sorted.
  std::vector<std::string> redacted;
};

// The run's public status and its event log, written by the lifecycle and read by API calls.
// Every change is also published as an event. Thread-safe; never held across I/O.
class RunStatus {
 public:
  // `event_capacity`: how many recent events are kept for subscribers that resume.
  RunStatus(std::string version, absl::Time started_at, size_t event_capacity = 1024);

  StatusSnapshot Snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // kFailedPrecondition until SetWorkerConfig was called.
  absl::StatusOr<RedactedConfig> WorkerConfig() const ABSL_LOCKS_EXCLUDED(mu_);

  // The status now and a subscription to the events after it, taken atomically (see
  // EventLog::Subscribe; the subscriber is not woken yet). Returns the snapshot and the
  // sequence number it corresponds to.
  absl::StatusOr<std::pair<StatusSnapshot, uint64_t>> Subscribe(
      const std::shared_ptr<EventSubscriber>& subscriber, std::optional<uint64_t> since,
      bool follow) ABSL_LOCKS_EXCLUDED(mu_);
  EventLog* events() { return &events_; }

  void SetPhase(RunPhase phase) ABSL_LOCKS_EXCLUDED(mu_);
  void SetProviderType(const std::string& type) ABSL_LOCKS_EXCLUDED(mu_);
  void SetWorkerImplementation(const std::string& implementation) ABSL_LOCKS_EXCLUDED(mu_);
  // Copies the identity part of `state` (never its credentials).
  void SetIdentity(const providers::RunState& state) ABSL_LOCKS_EXCLUDED(mu_);
  void SetWorkerStarted(int pid) ABSL_LOCKS_EXCLUDED(mu_);
  void SetNegotiated(const std::vector<std::string>& capabilities) ABSL_LOCKS_EXCLUDED(mu_);
  void SetWorkerExited(int exit_status) ABSL_LOCKS_EXCLUDED(mu_);
  // Keeps the first interruption of the run, except that the first terminating notice replaces
  // an advisory one; later ones are ignored. Every notice is published (advisory ones as
  // kAdvisory).
  void RecordInterruption(const providers::Interruption& interruption, absl::Time detected_at)
      ABSL_LOCKS_EXCLUDED(mu_);
  // New credential expiry (registration, renewal).
  void SetCredentialsExpire(absl::Time expire) ABSL_LOCKS_EXCLUDED(mu_);
  // The final worker configuration, already redacted.
  void SetWorkerConfig(RedactedConfig config) ABSL_LOCKS_EXCLUDED(mu_);

  // Events that change no status.
  void PublishErrorReport(const std::string& kind, const std::string& title,
                          const std::string& description) ABSL_LOCKS_EXCLUDED(mu_);
  void PublishShutdownRequest() ABSL_LOCKS_EXCLUDED(mu_);
  void PublishDrain(bool finish_tasks, DrainOutcome outcome, uint32_t caller_uid)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes the final event and ends every follower's stream (see EventLog::Close).
  void CloseEvents() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Appends under mu_, so a snapshot and the sequence it corresponds to always agree; the
  // caller wakes the returned subscribers after unlocking.
  EventLog::Subscribers AppendLocked(Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(Event event) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  StatusSnapshot snapshot_ ABSL_GUARDED_BY(mu_);
  std::optional<RedactedConfig> worker_config_ ABSL_GUARDED_BY(mu_);
  EventLog events_;
};

const char* RunPhaseName(RunPhase phase);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_RUN_STATUS_H_
