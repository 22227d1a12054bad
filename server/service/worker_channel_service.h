#ifndef RUNNER_SERVER_SERVICE_WORKER_CHANNEL_SERVICE_H_
#define RUNNER_SERVER_SERVICE_WORKER_CHANNEL_SERVICE_H_

#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/sync_stream.h"

#include "proto/worker_channel.grpc.pb.h"
#include "server/lifecycle/attached_worker.h"

namespace runner::service {

class ApiServer;

// The WorkerChannel service: hands each Attach stream to the lifecycle's attached-worker slot and
// feeds the run's session from it until the stream ends. No logic of its own. Thread-safe (gRPC
// calls it from its own threads; a call lasts as long as the attached worker).
class WorkerChannelService final : public workerrunner::v1::WorkerChannel::Service {
 public:
  // `slot` and `server` are not owned and must outlive the service. Only callers the server's
  // access control lets control the runner (root and the runner's own user) may attach.
  WorkerChannelService(lifecycle::AttachedWorkerSlot* slot, const ApiServer* server)
      : slot_(slot), server_(server) {}

  grpc::Status Attach(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<workerrunner::v1::ChannelFrame,
                                               workerrunner::v1::ChannelFrame>* stream) override;

 private:
  lifecycle::AttachedWorkerSlot* const slot_;  // not owned
  const ApiServer* const server_;              // not owned
};

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_WORKER_CHANNEL_SERVICE_H_
