#ifndef RUNNER_SERVER_SERVICE_API_SERVER_H_
#define RUNNER_SERVER_SERVICE_API_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "grpcpp/server.h"

#include "server/lifecycle/run_status.h"
#include "server/service/runner_service.h"
#include "server/service/worker_channel_service.h"

namespace runner::service {

// Serves the runner's gRPC API on a Unix socket. Used from main's thread only.
class ApiServer {
 public:
  // `status` and `attach_slot` are not owned and must outlive the server. With `attach_slot`
  // the server also offers the worker channel.
  explicit ApiServer(const lifecycle::RunStatus* status,
                     lifecycle::AttachedWorkerSlot* attach_slot = nullptr);
  ~ApiServer();  // Stop()s

  // Creates the socket's directory (mode 0750) if missing, refuses with kAlreadyExists when a
  // live runner answers on `socket_path`, removes a stale socket left by a dead one, and serves.
  // kInvalidArgument when the path is unusable (too long, or something other than a socket is
  // there).
  absl::Status Start(const std::string& socket_path);

  // Stops serving (in-flight calls get a short grace) and removes the socket. Idempotent.
  void Stop();

  const std::string& socket_path() const { return socket_path_; }

 private:
  RunnerService service_;
  std::unique_ptr<WorkerChannelService> worker_channel_;  // when there is an attach slot
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
};

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_API_SERVER_H_
