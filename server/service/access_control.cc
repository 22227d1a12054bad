#include "server/service/access_control.h"

#include <errno.h>
#include <sys/socket.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace runner::service {

bool ReadPeerCredentials(int fd, PeerCredentials* out) {
  struct ucred credentials;
  socklen_t length = sizeof(credentials);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return false;
  out->pid = credentials.pid;
  out->uid = credentials.uid;
  out->gid = credentials.gid;

  // The supplementary groups (Linux 4.13+): membership of api.group is usually one of them.
  out->groups.assign(64, 0);
  length = static_cast<socklen_t>(out->groups.size() * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, out->groups.data(), &length) != 0) {
    if (errno != ERANGE) {
      out->groups.clear();
      return true;
    }
    out->groups.assign(length / sizeof(gid_t), 0);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, out->groups.data(), &length) != 0) {
      out->groups.clear();
      return true;
    }
  }
  out->groups.resize(length / sizeof(gid_t));
  return true;
}

bool AccessControl::MayControl(const PeerCredentials& peer) const {
  return peer.uid == 0 || peer.uid == owner_;
}

bool AccessControl::MayRead(const PeerCredentials& peer) const {
  if (MayControl(peer)) return true;
  if (!group_.has_value()) return false;
  return peer.gid == *group_ ||
         std::find(peer.groups.begin(), peer.groups.end(), *group_) != peer.groups.end();
}

void AccessControl::AddConnection(const std::string& peer, PeerCredentials credentials) {
  absl::MutexLock lock(&mu_);
  connections_[peer] = std::move(credentials);
}

std::optional<PeerCredentials> AccessControl::Lookup(const std::string& peer) const {
  absl::MutexLock lock(&mu_);
  auto found = connections_.find(peer);
  if (found == connections_.end()) return std::nullopt;
  return found->second;
}

grpc::Status AccessControl::Check(const grpc::ServerContextBase& context, bool control,
                                  uid_t* uid) const {
  std::optional<PeerCredentials> peer = Lookup(context.peer());
  if (!peer.has_value()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "the caller's credentials are unknown");
  }
  if (uid != nullptr) *uid = peer->uid;
  bool allowed = control ? MayControl(*peer) : MayRead(*peer);
  if (allowed) return grpc::Status::OK;
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      control ? absl::StrCat("uid ", peer->uid, " may not control the runner (root and uid ",
                             owner_, " may)")
              : absl::StrCat("uid ", peer->uid,
                             " may not read the runner's API (root, its own user and api.group "
                             "may)"));
}

grpc::Status AccessControl::CheckRead(const grpc::ServerContextBase& context, uid_t* uid) const {
  return Check(context, /*control=*/false, uid);
}

grpc::Status AccessControl::CheckControl(const grpc::ServerContextBase& context, uid_t* uid) const {
  return Check(context, /*control=*/true, uid);
}

grpc::Status CallerMayControl(const AccessControl* access, const grpc::ServerContextBase& context) {
  if (access == nullptr) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no access control configured");
  }
  return access->CheckControl(context);
}

}  // namespace runner::service
