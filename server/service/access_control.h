#ifndef RUNNER_SERVER_SERVICE_ACCESS_CONTROL_H_
#define RUNNER_SERVER_SERVICE_ACCESS_CONTROL_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"

namespace runner::service {

// Who is at the other end of an accepted connection, as the kernel saw it at connect time
// (SO_PEERCRED, SO_PEERGROUPS).
struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};

// Reads the peer credentials of a connected Unix socket. False when the kernel cannot say.
bool ReadPeerCredentials(int fd, PeerCredentials* out);

// Who may do what on the API socket: reading (status, config, events) is for root, the runner's
// own user and members of the API group; control (drain, the worker channel) only for root and
// the runner's own user. The server records each connection's credentials under the peer name
// gRPC gives its calls ("fd:N"); a call whose connection is unknown is denied. Thread-safe.
class AccessControl {
 public:
  // `owner`: the runner's user; `group`: api.group's gid when configured.
  AccessControl(uid_t owner, std::optional<gid_t> group) : owner_(owner), group_(group) {}

  bool MayRead(const PeerCredentials& peer) const;
  bool MayControl(const PeerCredentials& peer) const;

  // Records the credentials of the connection gRPC will know as `peer` (replacing any earlier
  // connection of that name: file descriptors are reused only after gRPC closed the old one).
  void AddConnection(const std::string& peer, PeerCredentials credentials) ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<PeerCredentials> Lookup(const std::string& peer) const ABSL_LOCKS_EXCLUDED(mu_);

  // OK when the caller of `context` may read / control; PERMISSION_DENIED naming the uid
  // otherwise. `uid` (optional) receives the caller's uid.
  grpc::Status CheckRead(const grpc::ServerContextBase& context, uid_t* uid = nullptr) const;
  grpc::Status CheckControl(const grpc::ServerContextBase& context, uid_t* uid = nullptr) const;

 private:
  grpc::Status Check(const grpc::ServerContextBase& context, bool control, uid_t* uid) const;

  const uid_t owner_;
  const std::optional<gid_t> group_;
  mutable absl::Mutex mu_;
  std::map<std::string, PeerCredentials> connections_ ABSL_GUARDED_BY(mu_);
};

// For other services on the API socket (the worker channel): OK when the caller may control the
// runner, PERMISSION_DENIED otherwise. `access` may be null (no API server): then denied.
grpc::Status CallerMayControl(const AccessControl* access, const grpc::ServerContextBase& context);

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_ACCESS_CONTROL_H_
