#include "tests/fakes/http/fake_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "server/common/errno_status.h"

namespace runner::fakes {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

bool SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<size_t>(sent));
  }
  return true;
}

std::string Serialize(const HttpResponse& response) {
  std::string out = absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status),
                                 "\r\nContent-Length: ", response.body.size(), "\r\n");
  for (const auto& [name, value] : response.headers)
    absl::StrAppend(&out, name, ": ", value, "\r\n");
  if (response.close_connection) absl::StrAppend(&out, "Connection: close\r\n");
  absl::StrAppend(&out, "\r\n", response.body);
  return out;
}

}  // namespace

const std::string* HttpRequest::FindHeader(absl::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return &value;
  }
  return nullptr;
}

FakeHttpServer::FakeHttpServer(HttpHandler handler) : handler_(std::move(handler)) {}

FakeHttpServer::~FakeHttpServer() { Stop(); }

absl::Status FakeHttpServer::Start() {
  if (pipe2(wake_pipe_, O_CLOEXEC) != 0) return common::ErrnoToStatus(errno, "fake http: pipe");
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return common::ErrnoToStatus(errno, "fake http: socket");
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    return common::ErrnoToStatus(errno, "fake http: bind 127.0.0.1:0");
  }
  if (listen(listen_fd_, 64) != 0) return common::ErrnoToStatus(errno, "fake http: listen");
  socklen_t length = sizeof(address);
  if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return common::ErrnoToStatus(errno, "fake http: getsockname");
  }
  {
    absl::MutexLock lock(&mu_);
    port_ = ntohs(address.sin_port);
  }
  accept_thread_ = std::thread(&FakeHttpServer::AcceptLoop, this);
  return absl::OkStatus();
}

void FakeHttpServer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (wake_pipe_[1] >= 0) {
    // The pipe stays readable from now on, so every poll() in every thread returns.
    ssize_t ignored = write(wake_pipe_[1], "x", 1);
    (void)ignored;
  }
  if (accept_thread_.joinable()) accept_thread_.join();

  std::vector<Connection> connections;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
  }
  for (Connection& connection : connections) shutdown(connection.fd, SHUT_RDWR);
  for (Connection& connection : connections) {
    connection.thread.join();
    close(connection.fd);
  }
  for (int* fd : {&listen_fd_, &wake_pipe_[0], &wake_pipe_[1]}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

int FakeHttpServer::port() const {
  absl::MutexLock lock(&mu_);
  return port_;
}

std::string FakeHttpServer::url() const { return absl::StrCat("http://127.0.0.1:", port()); }

void FakeHttpServer::SetHandler(HttpHandler handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

std::vector<HttpRequest> FakeHttpServer::requests() const {
  absl::MutexLock lock(&mu_);
  return requests_;
}

int FakeHttpServer::connections_accepted() const {
  absl::MutexLock lock(&mu_);
  return accepted_;
}

bool FakeHttpServer::WaitForRequests(size_t count, absl::Duration timeout) const {
  auto enough = [this, count]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return requests_.size() >= count; };
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
}

void FakeHttpServer::AcceptLoop() {
  for (;;) {
    if (!WaitReadable(listen_fd_)) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    int id = ++accepted_;
    connections_.push_back(Connection{fd, std::thread(&FakeHttpServer::Serve, this, fd, id)});
  }
}

bool FakeHttpServer::WaitReadable(int fd) {
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int ready = poll(fds, 2, -1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || fds[1].revents != 0) return false;
    return true;
  }
}

bool FakeHttpServer::SleepUnlessStopped(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
  return !stopping_;
}

bool FakeHttpServer::ReadRequest(int fd, std::string* buffer, HttpRequest* request) {
  auto read_more = [&]() {
    if (!WaitReadable(fd)) return false;
    char chunk[16 * 1024];
    ssize_t got = recv(fd, chunk, sizeof(chunk), 0);
    if (got <= 0) return false;
    buffer->append(chunk, static_cast<size_t>(got));
    return true;
  };

  size_t header_end;
  while ((header_end = buffer->find("\r\n\r\n")) == std::string::npos) {
    if (buffer->size() > kMaxHeaderBytes || !read_more()) return false;
  }
  std::vector<std::string> lines =
      absl::StrSplit(absl::string_view(*buffer).substr(0, header_end), "\r\n");
  std::vector<std::string> request_line = absl::StrSplit(lines[0], ' ');
  if (request_line.size() != 3) return false;
  request->method = request_line[0];
  request->target = request_line[1];
  size_t content_length = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string::npos) return false;
    std::string name = lines[i].substr(0, colon);
    std::string value(absl::StripAsciiWhitespace(absl::string_view(lines[i]).substr(colon + 1)));
    if (absl::EqualsIgnoreCase(name, "content-length") &&
        !absl::SimpleAtoi(value, &content_length)) {
      return false;
    }
    // Chunked request bodies are not supported by this fake.
    if (absl::EqualsIgnoreCase(name, "transfer-encoding")) return false;
    request->headers.emplace_back(std::move(name), std::move(value));
  }

  size_t body_start = header_end + 4;
  while (buffer->size() < body_start + content_length) {
    if (!read_more()) return false;
  }
  request->body = buffer->substr(body_start, content_length);
  buffer->erase(0, body_start + content_length);
  return true;
}

void FakeHttpServer::Serve(int fd, int connection_id) {
  std::string buffer;
  for (;;) {
    HttpRequest request;
    if (!ReadRequest(fd, &buffer, &request)) break;
    request.connection_id = connection_id;

    HttpHandler handler;
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(request);
      handler = handler_;
    }
    HttpResponse response = handler ? handler(request) : HttpResponse{404, {}, "", {}, false};
    if (response.delay > absl::ZeroDuration() && !SleepUnlessStopped(response.delay)) break;

    const std::string* connection = request.FindHeader("connection");
    if (connection != nullptr && absl::EqualsIgnoreCase(*connection, "close")) {
      response.close_connection = true;
    }
    if (!SendAll(fd, Serialize(response)) || response.close_connection) break;
  }
  shutdown(fd, SHUT_RDWR);
}

}  // namespace runner::fakes
