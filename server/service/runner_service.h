#ifndef RUNNER_SERVER_SERVICE_RUNNER_SERVICE_H_
#define RUNNER_SERVER_SERVICE_RUNNER_SERVICE_H_

#include <stdint.h>

#include <functional>

#include "proto/runner.grpc.pb.h"
#include "server/lifecycle/event_log.h"
#include "server/lifecycle/run_status.h"
#include "server/service/access_control.h"
#include "server/service/proto_convert.h"

namespace runner::service {

// Asks the worker to drain (lifecycle::Runner::Drain); `uid` is the caller's.
using DrainFunction = std::function<lifecycle::DrainOutcome(bool finish_tasks, uint32_t uid)>;

// The Runner gRPC service (callback API): checks the caller, converts the lifecycle's status,
// configuration and events to protobuf, passes drain requests on. No logic of its own.
// Thread-safe (gRPC calls it from its own threads).
class RunnerService final : public workerrunner::v1::Runner::CallbackService {
 public:
  // Nothing is owned; all must outlive the service. `drain` may be empty (Drain is then
  // UNAVAILABLE). `max_queued_events`: a subscriber's queue bound.
  RunnerService(lifecycle::RunStatus* status, const AccessControl* access, DrainFunction drain,
                size_t max_queued_events)
      : status_(status),
        access_(access),
        drain_(std::move(drain)),
        max_queued_events_(max_queued_events) {}

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context,
                                      const workerrunner::v1::GetStatusRequest* request,
                                      workerrunner::v1::RunnerStatus* response) override;
  grpc::ServerUnaryReactor* GetConfig(grpc::CallbackServerContext* context,
                                      const workerrunner::v1::GetConfigRequest* request,
                                      workerrunner::v1::WorkerConfig* response) override;
  grpc::ServerWriteReactor<workerrunner::v1::Event>* WatchEvents(
      grpc::CallbackServerContext* context,
      const workerrunner::v1::WatchEventsRequest* request) override;
  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* context,
                                  const workerrunner::v1::DrainRequest* request,
                                  workerrunner::v1::DrainResponse* response) override;

 private:
  lifecycle::RunStatus* const status_;
  const AccessControl* const access_;
  const DrainFunction drain_;
  const size_t max_queued_events_;
};

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_RUNNER_SERVICE_H_
