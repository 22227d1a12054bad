#include "server/service/api_server.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/server_posix.h"

#include "server/common/errno_status.h"
#include "server/common/logger.h"

namespace runner::service {
namespace {

std::string ParentDirectory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Creates `dir` and missing parents; new directories get `mode`. `created` (optional) tells
// whether `dir` itself was made here.
absl::Status MakeDirectories(const std::string& dir, mode_t mode, bool* created = nullptr) {
  if (created != nullptr) *created = false;
  struct stat info;
  if (stat(dir.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("create ", dir, ": not a directory"));
  }
  std::string parent = ParentDirectory(dir);
  if (parent != dir) {
    absl::Status made = MakeDirectories(parent, mode);
    if (!made.ok()) return made;
  }
  if (created != nullptr) *created = true;
  if (mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return common::ErrnoToStatus(errno, absl::StrCat("create ", dir));
  }
  // mkdir applies the umask; the mode we promise is exact.
  chmod(dir.c_str(), mode);
  return absl::OkStatus();
}

// True when a process accepts connections on the socket at `path`.
bool SomeoneListens(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct sockaddr_un address;
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  bool connected = connect(fd, reinterpret_cast<struct sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

absl::Status ClearSocketPath(const std::string& path) {
  struct stat info;
  if (lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return common::ErrnoToStatus(errno, absl::StrCat("inspect ", path));
  }
  if (!S_ISSOCK(info.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("api.socket ", path, ": exists and is not a socket; not replacing it"));
  }
  if (SomeoneListens(path)) {
    return absl::AlreadyExistsError(
        absl::StrCat("api.socket ", path, ": another runner is already serving on it"));
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return common::ErrnoToStatus(errno, absl::StrCat("remove stale socket ", path));
  }
  common::LogInfo("api", "removed stale socket", {{"socket", path}});
  return absl::OkStatus();
}

// A listening Unix socket at `path` (not yet chmod'ed).
absl::StatusOr<int> Listen(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return common::ErrnoToStatus(errno, "create api socket");
  struct sockaddr_un address;
  memset(&address, 0, sizeof(address));
  address.sun_family = AF_UNIX;
  strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  // Nobody else may connect between bind and chmod.
  mode_t old_mask = umask(0177);
  int bound = bind(fd, reinterpret_cast<struct sockaddr*>(&address), sizeof(address));
  int bind_error = errno;
  umask(old_mask);
  if (bound != 0 || listen(fd, 64) != 0) {
    int error = bound != 0 ? bind_error : errno;
    close(fd);
    return common::ErrnoToStatus(error, absl::StrCat("api.socket ", path, ": listen"));
  }
  return fd;
}

}  // namespace

absl::StatusOr<gid_t> LookupGroup(const std::string& name) {
  std::vector<char> buffer(16384);
  struct group entry;
  struct group* found = nullptr;
  int error = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (error != 0) return common::ErrnoToStatus(error, absl::StrCat("api.group ", name));
  if (found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("api.group ", name, ": no such group"));
  }
  return found->gr_gid;
}

ApiServer::ApiServer(lifecycle::RunStatus* status, ApiServerOptions options)
    : status_(status), options_(std::move(options)) {}

ApiServer::~ApiServer() { Stop(); }

absl::Status ApiServer::Start(const std::string& socket_path) {
  struct sockaddr_un address;
  if (socket_path.empty() || socket_path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("api.socket ", socket_path, ": must be 1 to ",
                                                   sizeof(address.sun_path) - 1, " bytes long"));
  }
  std::optional<gid_t> group;
  if (!options_.group.empty()) {
    absl::StatusOr<gid_t> gid = LookupGroup(options_.group);
    if (!gid.ok()) return gid.status();
    group = *gid;
  }
  const std::string directory = ParentDirectory(socket_path);
  bool created_directory = false;
  absl::Status ready = MakeDirectories(directory, 0750, &created_directory);
  if (ready.ok()) ready = ClearSocketPath(socket_path);
  if (!ready.ok()) return ready;
  // Group members must reach the socket through the directory we made; a directory that was
  // already there keeps its owner's choices.
  if (created_directory && group.has_value() && chown(directory.c_str(), -1, *group) != 0) {
    return common::ErrnoToStatus(errno, absl::StrCat("api.group: chgrp ", directory));
  }

  access_ = std::make_unique<AccessControl>(getuid(), group);
  service_ = std::make_unique<RunnerService>(status_, access_.get(), options_.drain,
                                             options_.max_queued_events);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  for (grpc::Service* extra : extra_services_) builder.RegisterService(extra);
  // No listening port: connections come from our own accept loop (AddInsecureChannelFromFd).
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("api.socket ", socket_path, ": cannot serve"));
  }

  absl::StatusOr<int> listening = Listen(socket_path);
  if (!listening.ok()) {
    server_->Shutdown();
    server_.reset();
    return listening.status();
  }
  listen_fd_ = *listening;
  socket_path_ = socket_path;
  // Owner and group only; the directory is 0750 as well.
  if (group.has_value() && chown(socket_path.c_str(), -1, *group) != 0) {
    absl::Status failed =
        common::ErrnoToStatus(errno, absl::StrCat("api.group: chgrp ", socket_path));
    Stop();
    return failed;
  }
  chmod(socket_path.c_str(), 0660);
  if (pipe2(wake_fds_, O_CLOEXEC) != 0) {
    absl::Status failed = common::ErrnoToStatus(errno, "api: create wake pipe");
    Stop();
    return failed;
  }
  acceptor_ = std::thread([this] { AcceptLoop(); });
  common::LogInfo(
      "api", "serving",
      {{"socket", socket_path}, {"group", options_.group.empty() ? "-" : options_.group}});
  return absl::OkStatus();
}

void ApiServer::AcceptLoop() {
  while (true) {
    struct pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fds_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      common::LogError("api", "accept loop failed", {{"error", strerror(errno)}});
      return;
    }
    if (fds[1].revents != 0) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      common::LogWarning("api", "accept failed", {{"error", strerror(errno)}});
      continue;
    }
    PeerCredentials peer;
    if (!ReadPeerCredentials(fd, &peer)) {
      common::LogWarning("api", "peer credentials unavailable; closing connection",
                         {{"error", strerror(errno)}});
      close(fd);
      continue;
    }
    // gRPC names a connection made from a descriptor "fd:<n>"; calls carry that as their peer.
    access_->AddConnection(absl::StrCat("fd:", fd), std::move(peer));
    grpc::AddInsecureChannelFromFd(server_.get(), fd);
  }
}

void ApiServer::Stop() {
  if (server_ == nullptr) return;
  // Followers get the final event and their streams end, before the server goes.
  status_->CloseEvents();
  if (auto* health = server_->GetHealthCheckService(); health != nullptr) {
    health->SetServingStatus(false);
  }
  if (acceptor_.joinable()) {
    char byte = 0;
    if (write(wake_fds_[1], &byte, 1) != 1) {
      common::LogWarning("api", "could not wake the accept loop");
    }
    acceptor_.join();
  }
  for (int* fd : {&listen_fd_, &wake_fds_[0], &wake_fds_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
  if (!socket_path_.empty() && unlink(socket_path_.c_str()) != 0 && errno != ENOENT) {
    common::LogWarning("api", "could not remove socket", {{"socket", socket_path_}});
  }
  common::LogInfo("api", "stopped", {{"socket", socket_path_}});
}

}  // namespace runner::service
