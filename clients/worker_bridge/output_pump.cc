#include "clients/worker_bridge/output_pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <utility>

#include "bridge/workerproto/line_splitter.h"
#include "server/common/logger.h"

namespace runner::worker_bridge {

OutputPump::OutputPump(int fd, LineFn on_line) : fd_(fd), on_line_(std::move(on_line)) {
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) stop_pipe_[0] = stop_pipe_[1] = -1;
  thread_ = std::thread([this] { Loop(); });
}

OutputPump::~OutputPump() { Stop(); }

void OutputPump::Loop() {
  workerproto::LineSplitter splitter(on_line_);
  char buffer[64 * 1024];
  while (fd_ >= 0) {
    struct pollfd entries[2] = {{fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int ready = poll(entries, stop_pipe_[0] >= 0 ? 2 : 1, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || entries[1].revents != 0) break;
    ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      common::LogWarning("bridge", "reading worker output failed", {{"errno", errno}});
      break;
    }
    if (n == 0) break;
    splitter.Feed(absl::string_view(buffer, static_cast<size_t>(n)));
  }
  size_t dropped = splitter.Finish();
  if (dropped > 0) {
    common::LogDebug("bridge", "dropped unterminated last line", {{"bytes", dropped}});
  }
  absl::MutexLock lock(&mu_);
  eof_ = true;
}

bool OutputPump::WaitForEof(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto eof = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return eof_; };
  return mu_.AwaitWithTimeout(absl::Condition(&eof), timeout);
}

void OutputPump::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (stop_pipe_[1] >= 0) {
    char byte = 0;
    while (write(stop_pipe_[1], &byte, 1) < 0 && errno == EINTR) {
    }
  }
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  for (int& fd : stop_pipe_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

}  // namespace runner::worker_bridge
