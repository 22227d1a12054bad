#include "bridge/adapter/text_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <string>

#include "bridge/workerproto/codec.h"
#include "bridge/workerproto/line_splitter.h"
#include "server/common/logger.h"

namespace runner::adapter {

TextTransport::TextTransport(int read_fd, int write_fd, absl::Duration write_timeout)
    : write_timeout_(write_timeout), read_fd_(read_fd), write_fd_(write_fd) {
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    stop_pipe_[0] = stop_pipe_[1] = -1;
  }
  absl::MutexLock lock(&write_mu_);
  if (write_fd_ >= 0) {
    // Non-blocking, so a worker that never reads cannot wedge the runner in write(2).
    fcntl(write_fd_, F_SETFL, fcntl(write_fd_, F_GETFL) | O_NONBLOCK);
  }
}

TextTransport::~TextTransport() { Stop(); }

void TextTransport::Start(workerproto::RunnerSession* session) {
  reader_ = std::thread([this, session] { ReadLoop(session); });
}

void TextTransport::ReadLoop(workerproto::RunnerSession* session) {
  workerproto::LineSplitter splitter([session](absl::string_view line, bool oversize) {
    if (oversize) {
      session->HandleOversizeLine(line, line.size());
    } else {
      session->HandleLine(line);
    }
  });

  char buffer[64 * 1024];
  while (read_fd_ >= 0) {
    struct pollfd entries[2] = {{read_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    int ready = poll(entries, stop_pipe_[0] >= 0 ? 2 : 1, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      common::LogWarning("protocol", "polling worker output failed", {{"errno", errno}});
      break;
    }
    if (entries[1].revents != 0) break;  // Stop() was called
    ssize_t n = read(read_fd_, buffer, sizeof(buffer));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      common::LogWarning("protocol", "reading worker output failed", {{"errno", errno}});
      break;
    }
    if (n == 0) break;
    splitter.Feed(absl::string_view(buffer, static_cast<size_t>(n)));
  }

  size_t dropped = splitter.Finish();
  if (dropped > 0) {
    common::LogDebug("protocol", "dropped unterminated last line", {{"bytes", dropped}});
  }
  absl::MutexLock lock(&mu_);
  eof_ = true;
}

bool TextTransport::Send(const workerproto::WorkerMessage& message) {
  std::string line = workerproto::EncodeLine(message);
  absl::MutexLock lock(&write_mu_);
  if (write_fd_ < 0) return false;

  absl::Time deadline = absl::Now() + write_timeout_;
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = write(write_fd_, line.data() + done, line.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) break;
      struct pollfd entry = {write_fd_, POLLOUT, 0};
      poll(&entry, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
      continue;
    }
    break;  // EPIPE and friends: the worker is gone
  }
  if (done < line.size()) {
    common::LogDebug("protocol", "could not send message to worker", {{"bytes", line.size()}});
    return false;
  }
  return true;
}

bool TextTransport::WaitForEof(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto eof = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return eof_; };
  return mu_.AwaitWithTimeout(absl::Condition(&eof), timeout);
}

void TextTransport::Stop() {
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
  if (reader_.joinable()) reader_.join();
  if (read_fd_ >= 0) close(read_fd_);
  read_fd_ = -1;
  {
    absl::MutexLock lock(&write_mu_);
    if (write_fd_ >= 0) close(write_fd_);
    write_fd_ = -1;
  }
  for (int& fd : stop_pipe_) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

}  // namespace runner::adapter
