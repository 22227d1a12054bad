#ifndef RUNNER_SERVER_SERVICE_API_SERVER_H_
#define RUNNER_SERVER_SERVICE_API_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/server.h"

#include "server/lifecycle/run_status.h"
#include "server/service/access_control.h"
#include "server/service/runner_service.h"

namespace runner::service {

struct ApiServerOptions {
  // api.group: its members may read status, config and events. Empty: nobody but root and the
  // runner's user.
  std::string group;
  // Drain handler (Runner::Drain); empty: Drain answers UNAVAILABLE.
  DrainFunction drain;
  // A subscriber that falls this many events behind is ended (RESOURCE_EXHAUSTED).
  size_t max_queued_events = 2048;
};

// Serves the runner's gRPC API on a Unix socket: the Runner service, the standard health
// service and server reflection, plus any service registered before Start (the worker
// channel). It accepts connections itself to learn each peer's uid and groups (SO_PEERCRED),
// then hands the connection to gRPC; calls are checked against access(). Start/Stop from one
// thread (main's); access() from any.
class ApiServer {
 public:
  // `status` is not owned and must outlive the server.
  ApiServer(lifecycle::RunStatus* status, ApiServerOptions options = {});
  ~ApiServer();  // Stop()s

  // Adds another service to serve (not owned; must outlive the server). Before Start only.
  void RegisterService(grpc::Service* service) { extra_services_.push_back(service); }

  // Creates the socket's directory (mode 0750, group api.group) if missing, refuses with
  // kAlreadyExists when a live runner answers on `socket_path`, removes a stale socket left by a
  // dead one, and serves (socket mode 0660, group api.group). kInvalidArgument when the path is
  // unusable (too long, or something other than a socket is there) or api.group does not exist.
  absl::Status Start(const std::string& socket_path);

  // Sends followers of the event feed the final event and ends their streams, stops serving
  // (in-flight calls get a short grace) and removes the socket. Idempotent.
  void Stop();

  const std::string& socket_path() const { return socket_path_; }
  // Who may do what; for services registered from elsewhere (CallerMayControl).
  const AccessControl* access() const { return access_.get(); }

 private:
  void AcceptLoop();

  lifecycle::RunStatus* const status_;  // not owned
  const ApiServerOptions options_;
  std::unique_ptr<AccessControl> access_;
  std::unique_ptr<RunnerService> service_;
  std::vector<grpc::Service*> extra_services_;  // not owned
  std::unique_ptr<grpc::Server> server_;
  std::string socket_path_;
  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // Stop writes to [1] to end the accept loop
  std::thread acceptor_;
};

// Resolves a group name to its gid. kInvalidArgument when no such group exists.
absl::StatusOr<gid_t> LookupGroup(const std::string& name);

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_API_SERVER_H_
