#include "server/service/runner_service.h"

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
    if (snapshot.interruption_detected_at.has_value()) {
      *interruption->mutable_detected_at() = ToTimestamp(*snapshot.interruption_detected_at);
    }
    if (snapshot.interruption->deadline.has_value()) {
      *interruption->mutable_deadline() = ToTimestamp(*snapshot.interruption->deadline);
    }
  }
}

grpc::Status RunnerService::GetStatus(grpc::ServerContext*,
                                      const workerrunner::v1::GetStatusRequest*,
                                      workerrunner::v1::RunnerStatus* response) {
  SnapshotToProto(status_->Snapshot(), response);
  return grpc::Status::OK;
}

}  // namespace runner::service
