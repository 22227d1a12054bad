#ifndef RUNNER_SERVER_SERVICE_RUNNER_SERVICE_H_
#define RUNNER_SERVER_SERVICE_RUNNER_SERVICE_H_

#include "proto/runner.grpc.pb.h"
#include "server/lifecycle/run_status.h"

namespace runner::service {

// The Runner gRPC service: converts the lifecycle's status snapshot to protobuf. No logic of its
// own. Thread-safe (gRPC calls it from its own threads).
class RunnerService final : public workerrunner::v1::Runner::Service {
 public:
  // `status` is not owned and must outlive the service.
  explicit RunnerService(const lifecycle::RunStatus* status) : status_(status) {}

  grpc::Status GetStatus(grpc::ServerContext* context,
                         const workerrunner::v1::GetStatusRequest* request,
                         workerrunner::v1::RunnerStatus* response) override;

 private:
  const lifecycle::RunStatus* status_;
};

// The snapshot as the API's message.
void SnapshotToProto(const lifecycle::StatusSnapshot& snapshot,
                     workerrunner::v1::RunnerStatus* out);

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_RUNNER_SERVICE_H_
