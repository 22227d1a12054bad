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

RunStatus::RunStatus(std::string version, absl::Time started_at, size_t event_capacity)
    : events_(event_capacity) {
  snapshot_.version = std::move(version);
  snapshot_.started_at = started_at;
}

StatusSnapshot RunStatus::Snapshot() const {
  absl::MutexLock lock(&mu_);
  StatusSnapshot copy = snapshot_;
  copy.now = absl::Now();
  return copy;
}

absl::StatusOr<RedactedConfig> RunStatus::WorkerConfig() const {
  absl::MutexLock lock(&mu_);
  if (!worker_config_.has_value()) {
    return absl::FailedPreconditionError("the worker configuration is not final yet");
  }
  return *worker_config_;
}

absl::StatusOr<std::pair<StatusSnapshot, uint64_t>> RunStatus::Subscribe(
    const std::shared_ptr<EventSubscriber>& subscriber, std::optional<uint64_t> since,
    bool follow) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<uint64_t> last = events_.Subscribe(subscriber, since, follow);
  if (!last.ok()) return last.status();
  StatusSnapshot copy = snapshot_;
  copy.now = absl::Now();
  return std::make_pair(std::move(copy), *last);
}

EventLog::Subscribers RunStatus::AppendLocked(Event event) {
  return events_.Append(std::move(event));
}

void RunStatus::Publish(Event event) { EventLog::WakeAll(events_.Append(std::move(event))); }

void RunStatus::SetPhase(RunPhase phase) {
  EventLog::Subscribers woken;
  {
    absl::MutexLock lock(&mu_);
    if (snapshot_.phase == phase) return;
    snapshot_.phase = phase;
    Event event;
    event.kind = EventKind::kRunnerState;
    event.phase = phase;
    woken = AppendLocked(std::move(event));
  }
  EventLog::WakeAll(woken);
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
  EventLog::Subscribers woken;
  {
    absl::MutexLock lock(&mu_);
    snapshot_.provider_id = state.provider_id;
    snapshot_.root_url = state.root_url;
    snapshot_.worker_pool_id = state.worker_pool_id;
    snapshot_.worker_group = state.worker_group;
    snapshot_.worker_id = state.worker_id;
    snapshot_.worker_location = state.worker_location;
    snapshot_.credentials_expire = state.credentials_expire;
    if (state.credentials_expire.has_value()) {
      Event event;
      event.kind = EventKind::kCredentials;
      event.credentials_expire = *state.credentials_expire;
      woken = AppendLocked(std::move(event));
    }
  }
  EventLog::WakeAll(woken);
}

void RunStatus::SetWorkerStarted(int pid) {
  EventLog::Subscribers woken;
  {
    absl::MutexLock lock(&mu_);
    snapshot_.worker_pid = pid;
    snapshot_.worker_exited = false;
    Event event;
    event.kind = EventKind::kWorkerState;
    event.worker_change = WorkerChange::kStarted;
    event.pid = pid;
    woken = AppendLocked(std::move(event));
  }
  EventLog::WakeAll(woken);
}

void RunStatus::SetNegotiated(const std::vector<std::string>& capabilities) {
  EventLog::Subscribers woken;
  {
    absl::MutexLock lock(&mu_);
    snapshot_.protocol_negotiated = true;
    snapshot_.capabilities = capabilities;
    Event event;
    event.kind = EventKind::kWorkerState;
    event.worker_change = WorkerChange::kNegotiated;
    event.pid = snapshot_.worker_pid;
    event.capabilities = capabilities;
    woken = AppendLocked(std::move(event));
  }
  EventLog::WakeAll(woken);
}

void RunStatus::SetWorkerExited(int exit_status) {
  EventLog::Subscribers woken;
  {
    absl::MutexLock lock(&mu_);
    Event event;
    event.kind = EventKind::kWorkerState;
    event.worker_change = WorkerChange::kExited;
    event.pid = snapshot_.worker_pid;
    event.exit_status = exit_status;
    snapshot_.worker_pid = 0;
    snapshot_.worker_exited = true;
    snapshot_.worker_exit_status = exit_status;
    woken = AppendLocked(std::move(event));
  }
  EventLog::WakeAll(woken);
}

void RunStatus::RecordInterruption(const providers::Interruption& interruption,
                                   absl::Time detected_at) {
  EventLog::Subscribers woken;
  {
    absl::MutexLock lock(&mu_);
    // An advisory event (a rebalance recommendation) must not hide the notice that followed it.
    const auto& kept = snapshot_.interruption;
    if (!kept.has_value() || (!kept->terminates && interruption.terminates)) {
      snapshot_.interruption = interruption;
      snapshot_.interruption_detected_at = detected_at;
    }
    Event event;
    event.kind = interruption.terminates ? EventKind::kInterruption : EventKind::kAdvisory;
    event.interruption = interruption;
    woken = AppendLocked(std::move(event));
  }
  EventLog::WakeAll(woken);
}

void RunStatus::SetCredentialsExpire(absl::Time expire) {
  EventLog::Subscribers woken;
  {
    absl::MutexLock lock(&mu_);
    snapshot_.credentials_expire = expire;
    Event event;
    event.kind = EventKind::kCredentials;
    event.credentials_expire = expire;
    woken = AppendLocked(std::move(event));
  }
  EventLog::WakeAll(woken);
}

void RunStatus::SetWorkerConfig(RedactedConfig config) {
  absl::MutexLock lock(&mu_);
  worker_config_ = std::move(config);
}

void RunStatus::PublishErrorReport(const std::string& kind, const std::string& title,
                                   const std::string& description) {
  Event event;
  event.kind = EventKind::kErrorReport;
  event.error_kind = kind;
  event.error_title = title;
  event.error_description = description;
  Publish(std::move(event));
}

void RunStatus::PublishShutdownRequest() {
  Event event;
  event.kind = EventKind::kShutdownRequest;
  Publish(std::move(event));
}

void RunStatus::PublishDrain(bool finish_tasks, DrainOutcome outcome, uint32_t caller_uid) {
  Event event;
  event.kind = EventKind::kDrain;
  event.finish_tasks = finish_tasks;
  event.drain_outcome = outcome;
  event.caller_uid = caller_uid;
  Publish(std::move(event));
}

void RunStatus::CloseEvents() { events_.Close(); }

}  // namespace runner::lifecycle
