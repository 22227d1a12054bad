#include "server/service/worker_channel_service.h"

#include <string>

#include "bridge/adapter/grpc_transport.h"
#include "server/common/logger.h"
#include "server/service/access_control.h"
#include "server/service/api_server.h"

namespace runner::service {

grpc::Status WorkerChannelService::Attach(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<workerrunner::v1::ChannelFrame, workerrunner::v1::ChannelFrame>*
        stream) {
  grpc::Status allowed = CallerMayControl(server_->access(), *context);
  if (!allowed.ok()) return allowed;

  adapter::GrpcTransport transport(stream, context);
  absl::StatusOr<workerproto::RunnerSession*> session = slot_->Attach(&transport);
  if (!session.ok()) {
    common::LogWarning("api", "refused worker attach",
                       {{"error", std::string(session.status().message())}});
    // The numeric codes of absl and gRPC line up.
    return grpc::Status(static_cast<grpc::StatusCode>(session.status().code()),
                        std::string(session.status().message()));
  }

  adapter::GrpcTransport::Ending ending = transport.ReadAll(
      *session,
      [this](int64_t pid, const std::string& program) { slot_->WorkerStarted(pid, program); });
  slot_->Detach(ending.exit_status, ending.start_error);
  return grpc::Status::OK;
}

}  // namespace runner::service
