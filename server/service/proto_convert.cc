#include "server/service/proto_convert.h"

#include <string>

#include "google/protobuf/util/time_util.h"

namespace runner::service {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(time));
}

workerrunner::v1::RunState ToProto(lifecycle::RunPhase phase) {
  switch (phase) {
    case lifecycle::RunPhase::kStarting:
      return workerrunner::v1::RUN_STATE_STARTING;
    case lifecycle::RunPhase::kStartingWorker:
      return workerrunner::v1::RUN_STATE_STARTING_WORKER;
    case lifecycle::RunPhase::kRunning:
      return workerrunner::v1::RUN_STATE_RUNNING;
    case lifecycle::RunPhase::kStopping:
      return workerrunner::v1::RUN_STATE_STOPPING;
  }
  return workerrunner::v1::RUN_STATE_UNSPECIFIED;
}

}  // namespace

void SnapshotToProto(const lifecycle::StatusSnapshot& snapshot,
                     workerrunner::v1::RunnerStatus* out) {
  out->set_state(ToProto(snapshot.phase));
  out->set_version(snapshot.version);
  *out->mutable_started_at() = ToTimestamp(snapshot.started_at);
  *out->mutable_uptime() =
      TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(snapshot.now - snapshot.started_at));

  out->set_provider_type(snapshot.provider_type);
  out->set_provider_id(snapshot.provider_id);
  out->set_root_url(snapshot.root_url);
  out->set_worker_pool_id(snapshot.worker_pool_id);
  out->set_worker_group(snapshot.worker_group);
  out->set_worker_id(snapshot.worker_id);
  for (const auto& [key, value] : snapshot.worker_location) {
    (*out->mutable_worker_location())[key] = value;
  }
  if (snapshot.credentials_expire.has_value()) {
    *out->mutable_credentials_expire() = ToTimestamp(*snapshot.credentials_expire);
  }

  out->set_worker_implementation(snapshot.worker_implementation);
  out->set_worker_pid(snapshot.worker_pid);
  out->set_protocol_negotiated(snapshot.protocol_negotiated);
  for (const std::string& capability : snapshot.capabilities) out->add_capabilities(capability);
  out->set_worker_exited(snapshot.worker_exited);
  out->set_worker_exit_status(snapshot.worker_exit_status);

  if (snapshot.interruption.has_value()) {
    auto* interruption = out->mutable_interruption();
    interruption->set_source(snapshot.interruption->source);
    interruption->set_kind(snapshot.interruption->kind);
    interruption->set_terminates(snapshot.interruption->terminates);
    if (snapshot.interruption_detected_at.has_value()) {
      *interruption->mutable_detected_at() = ToTimestamp(*snapshot.interruption_detected_at);
    }
    if (snapshot.interruption->deadline.has_value()) {
      *interruption->mutable_deadline() = ToTimestamp(*snapshot.interruption->deadline);
    }
  }
}

void EventToProto(const lifecycle::Event& event, workerrunner::v1::Event* out) {
  namespace v1 = workerrunner::v1;
  out->set_sequence(event.sequence);
  *out->mutable_time() = ToTimestamp(event.time);
  switch (event.kind) {
    case lifecycle::EventKind::kRunnerState:
      out->set_kind(v1::EVENT_KIND_RUNNER_STATE);
      out->set_runner_state(ToProto(event.phase));
      break;
    case lifecycle::EventKind::kWorkerState: {
      out->set_kind(v1::EVENT_KIND_WORKER_STATE);
      auto* worker = out->mutable_worker_state();
      worker->set_change(event.worker_change == lifecycle::WorkerChange::kStarted
                             ? v1::WorkerStateChange::CHANGE_STARTED
                         : event.worker_change == lifecycle::WorkerChange::kNegotiated
                             ? v1::WorkerStateChange::CHANGE_NEGOTIATED
                             : v1::WorkerStateChange::CHANGE_EXITED);
      worker->set_pid(event.pid);
      for (const std::string& capability : event.capabilities) {
        worker->add_capabilities(capability);
      }
      worker->set_exit_status(event.exit_status);
      break;
    }
    case lifecycle::EventKind::kInterruption:
    case lifecycle::EventKind::kAdvisory: {
      out->set_kind(event.kind == lifecycle::EventKind::kInterruption ? v1::EVENT_KIND_INTERRUPTION
                                                                      : v1::EVENT_KIND_ADVISORY);
      auto* interruption = out->mutable_interruption();
      interruption->set_source(event.interruption.source);
      interruption->set_kind(event.interruption.kind);
      interruption->set_terminates(event.interruption.terminates);
      *interruption->mutable_detected_at() = ToTimestamp(event.time);
      if (event.interruption.deadline.has_value()) {
        *interruption->mutable_deadline() = ToTimestamp(*event.interruption.deadline);
      }
      break;
    }
    case lifecycle::EventKind::kCredentials:
      out->set_kind(v1::EVENT_KIND_CREDENTIALS);
      *out->mutable_credentials_expire() = ToTimestamp(event.credentials_expire);
      break;
    case lifecycle::EventKind::kErrorReport: {
      out->set_kind(v1::EVENT_KIND_ERROR_REPORT);
      auto* report = out->mutable_error_report();
      report->set_kind(event.error_kind);
      report->set_title(event.error_title);
      report->set_description(event.error_description);
      break;
    }
    case lifecycle::EventKind::kShutdownRequest:
      out->set_kind(v1::EVENT_KIND_SHUTDOWN_REQUEST);
      break;
    case lifecycle::EventKind::kDrain: {
      out->set_kind(v1::EVENT_KIND_DRAIN);
      auto* drain = out->mutable_drain();
      drain->set_finish_tasks(event.finish_tasks);
      drain->set_outcome(DrainOutcomeToProto(event.drain_outcome));
      drain->set_uid(event.caller_uid);
      break;
    }
    case lifecycle::EventKind::kRunnerStopping:
      out->set_kind(v1::EVENT_KIND_RUNNER_STOPPING);
      break;
  }
}

std::optional<lifecycle::EventKind> KindFromProto(workerrunner::v1::EventKind kind) {
  namespace v1 = workerrunner::v1;
  switch (kind) {
    case v1::EVENT_KIND_RUNNER_STATE:
      return lifecycle::EventKind::kRunnerState;
    case v1::EVENT_KIND_WORKER_STATE:
      return lifecycle::EventKind::kWorkerState;
    case v1::EVENT_KIND_INTERRUPTION:
      return lifecycle::EventKind::kInterruption;
    case v1::EVENT_KIND_ADVISORY:
      return lifecycle::EventKind::kAdvisory;
    case v1::EVENT_KIND_CREDENTIALS:
      return lifecycle::EventKind::kCredentials;
    case v1::EVENT_KIND_ERROR_REPORT:
      return lifecycle::EventKind::kErrorReport;
    case v1::EVENT_KIND_SHUTDOWN_REQUEST:
      return lifecycle::EventKind::kShutdownRequest;
    case v1::EVENT_KIND_DRAIN:
      return lifecycle::EventKind::kDrain;
    case v1::EVENT_KIND_RUNNER_STOPPING:
      return lifecycle::EventKind::kRunnerStopping;
    default:
      return std::nullopt;
  }
}

workerrunner::v1::DrainOutcome DrainOutcomeToProto(lifecycle::DrainOutcome outcome) {
  switch (outcome) {
    case lifecycle::DrainOutcome::kSent:
      return workerrunner::v1::DRAIN_OUTCOME_SENT;
    case lifecycle::DrainOutcome::kQueued:
      return workerrunner::v1::DRAIN_OUTCOME_QUEUED;
    case lifecycle::DrainOutcome::kNotCapable:
      return workerrunner::v1::DRAIN_OUTCOME_NOT_CAPABLE;
    case lifecycle::DrainOutcome::kNoWorker:
      return workerrunner::v1::DRAIN_OUTCOME_NO_WORKER;
    case lifecycle::DrainOutcome::kAlreadySent:
      return workerrunner::v1::DRAIN_OUTCOME_ALREADY_SENT;
  }
  return workerrunner::v1::DRAIN_OUTCOME_UNSPECIFIED;
}

}  // namespace runner::service
