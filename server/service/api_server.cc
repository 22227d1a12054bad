#include "server/service/api_server.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"

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

// Creates `dir` and missing parents; new directories get `mode`.
absl::Status MakeDirectories(const std::string& dir, mode_t mode) {
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

}  // namespace

ApiServer::ApiServer(const lifecycle::RunStatus* status, lifecycle::AttachedWorkerSlot* attach_slot)
    : service_(status) {
  if (attach_slot != nullptr) {
    worker_channel_ = std::make_unique<WorkerChannelService>(attach_slot);
  }
}

ApiServer::~ApiServer() { Stop(); }

absl::Status ApiServer::Start(const std::string& socket_path) {
  struct sockaddr_un address;
  if (socket_path.empty() || socket_path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("api.socket ", socket_path, ": must be 1 to ",
                                                   sizeof(address.sun_path) - 1, " bytes long"));
  }
  absl::Status ready = MakeDirectories(ParentDirectory(socket_path), 0750);
  if (ready.ok()) ready = ClearSocketPath(socket_path);
  if (!ready.ok()) return ready;

  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", socket_path), grpc::InsecureServerCredentials());
  builder.RegisterService(&service_);
  if (worker_channel_ != nullptr) builder.RegisterService(worker_channel_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("api.socket ", socket_path, ": cannot listen"));
  }
  socket_path_ = socket_path;
  // Owner and group only; the directory is 0750 as well.
  chmod(socket_path.c_str(), 0660);
  common::LogInfo("api", "serving", {{"socket", socket_path}});
  return absl::OkStatus();
}

void ApiServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
  if (unlink(socket_path_.c_str()) != 0 && errno != ENOENT) {
    common::LogWarning("api", "could not remove socket", {{"socket", socket_path_}});
  }
  common::LogInfo("api", "stopped", {{"socket", socket_path_}});
}

}  // namespace runner::service
