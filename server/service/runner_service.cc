#include "server/service/runner_service.h"

#include <string>

#include "google/protobuf/util/json_util.h"

#include "server/service/event_stream.h"

namespace runner::service {
namespace {

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

const char* DrainMessage(lifecycle::DrainOutcome outcome) {
  switch (outcome) {
    case lifecycle::DrainOutcome::kSent:
      return "graceful-termination sent to the worker";
    case lifecycle::DrainOutcome::kQueued:
      return "the worker has not said hello yet; graceful-termination is sent if it supports it";
    case lifecycle::DrainOutcome::kNotCapable:
      return "the worker cannot be told: it does not support graceful-termination";
    case lifecycle::DrainOutcome::kNoWorker:
      return "no worker process is running";
    case lifecycle::DrainOutcome::kAlreadySent:
      return "graceful-termination was already sent to the worker in this run";
  }
  return "";
}

}  // namespace

grpc::ServerUnaryReactor* RunnerService::GetStatus(grpc::CallbackServerContext* context,
                                                   const workerrunner::v1::GetStatusRequest*,
                                                   workerrunner::v1::RunnerStatus* response) {
  grpc::Status allowed = access_->CheckRead(*context);
  if (!allowed.ok()) return Done(context, allowed);
  SnapshotToProto(status_->Snapshot(), response);
  return Done(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* RunnerService::GetConfig(grpc::CallbackServerContext* context,
                                                   const workerrunner::v1::GetConfigRequest*,
                                                   workerrunner::v1::WorkerConfig* response) {
  grpc::Status allowed = access_->CheckRead(*context);
  if (!allowed.ok()) return Done(context, allowed);
  absl::StatusOr<lifecycle::RedactedConfig> config = status_->WorkerConfig();
  if (!config.ok()) {
    return Done(context, grpc::Status(static_cast<grpc::StatusCode>(config.status().code()),
                                      std::string(config.status().message())));
  }
  auto parsed = google::protobuf::util::JsonStringToMessage(config->config.dump(),
                                                            response->mutable_config());
  if (!parsed.ok()) {
    return Done(context, grpc::Status(grpc::StatusCode::INTERNAL,
                                      "worker configuration: cannot express it as a Struct"));
  }
  for (const std::string& path : config->redacted) response->add_redacted(path);
  return Done(context, grpc::Status::OK);
}

grpc::ServerWriteReactor<workerrunner::v1::Event>* RunnerService::WatchEvents(
    grpc::CallbackServerContext* context, const workerrunner::v1::WatchEventsRequest* request) {
  return EventStream::Start(status_, *request, max_queued_events_, access_->CheckRead(*context));
}

grpc::ServerUnaryReactor* RunnerService::Drain(grpc::CallbackServerContext* context,
                                               const workerrunner::v1::DrainRequest* request,
                                               workerrunner::v1::DrainResponse* response) {
  uid_t uid = 0;
  grpc::Status allowed = access_->CheckControl(*context, &uid);
  if (!allowed.ok()) return Done(context, allowed);
  if (!drain_) {
    return Done(context, grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no run to drain"));
  }
  lifecycle::DrainOutcome outcome = drain_(request->finish_tasks(), uid);
  response->set_outcome(DrainOutcomeToProto(outcome));
  response->set_message(DrainMessage(outcome));
  return Done(context, grpc::Status::OK);
}

}  // namespace runner::service
