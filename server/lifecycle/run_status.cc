#include "server/lifecycle/run_status.h"

#include "absl/time/clock.h"

namespace runner::lifecycle {

const char* RunPhaseName(RunPhase phase) {
  switch (phase) {
    case RunPhase::kStarting:
      return "starting";
    case RunPhase::kStartingWorker:
      return "starting-worker";
    case RunPhase::kRunning:
      return "running";
    case RunPhase::kStopping:
      return "stopping";
  }
  return "starting";
}

RunStatus::RunStatus(std::string version, absl::Time started_at) {
  snapshot_.version = std::move(version);
  snapshot_.started_at = started_at;
}

StatusSnapshot RunStatus::Snapshot() const {
  absl::MutexLock lock(&mu_);
  StatusSnapshot copy = snapshot_;
  copy.now = absl::Now();
  return copy;
}

void RunStatus::SetPhase(RunPhase phase) {
  absl::MutexLock lock(&mu_);
  snapshot_.phase = phase;
}

void RunStatus::SetProviderType(const std::string& type) {
  absl::MutexLock lock(&mu_);
  snapshot_.provider_type = type;
}

void RunStatus::SetWorkerImplementation(const std::string& implementation) {
  absl::MutexLock lock(&mu_);
  snapshot_.worker_implementation = implementation;
}

void RunStatus::SetIdentity(const providers::RunState& state) {
  absl::MutexLock lock(&mu_);
  snapshot_.provider_id = state.provider_id;
  snapshot_.root_url = state.root_url;
  snapshot_.worker_pool_id = state.worker_pool_id;
  snapshot_.worker_group = state.worker_group;
  snapshot_.worker_id = state.worker_id;
  snapshot_.worker_location = state.worker_location;
  snapshot_.credentials_expire = state.credentials_expire;
}

void RunStatus::SetCredentialsExpire(absl::Time expires) {
  absl::MutexLock lock(&mu_);
  snapshot_.credentials_expire = expires;
}

void RunStatus::SetWorkerStarted(int pid) {
  absl::MutexLock lock(&mu_);
  snapshot_.worker_pid = pid;
  snapshot_.worker_exited = false;
}

void RunStatus::SetNegotiated(const std::vector<std::string>& capabilities) {
  absl::MutexLock lock(&mu_);
  snapshot_.protocol_negotiated = true;
  snapshot_.capabilities = capabilities;
}

void RunStatus::SetWorkerExited(int exit_status) {
  absl::MutexLock lock(&mu_);
  snapshot_.worker_pid = 0;
  snapshot_.worker_exited = true;
  snapshot_.worker_exit_status = exit_status;
}

void RunStatus::RecordInterruption(const providers::Interruption& interruption,
                                   absl::Time detected_at) {
  absl::MutexLock lock(&mu_);
  // An advisory event (a rebalance recommendation) must not hide the notice that followed it.
  const auto& kept = snapshot_.interruption;
  if (kept.has_value() && (kept->terminates || !interruption.terminates)) return;
  snapshot_.interruption = interruption;
  snapshot_.interruption_detected_at = detected_at;
}

}  // namespace runner::lifecycle
