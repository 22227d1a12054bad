#ifndef RUNNER_TESTS_FAKES_HTTP_FAKE_HTTP_SERVER_H_
#define RUNNER_TESTS_FAKES_HTTP_FAKE_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace runner::fakes {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// A request as the fake server received it.
struct HttpRequest {
  std::string method;
  std::string target;  // request-target: path plus "?query"
  HttpHeaders headers;
  std::string body;
  int connection_id = 0;  // the same id for requests that arrived on one kept-alive connection

  // The first header named `name` (case-insensitive), or nullptr.
  const std::string* FindHeader(absl::string_view name) const;
};

// What the handler wants sent back. Content-Length is added by the server.
struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  absl::Duration delay = absl::ZeroDuration();  // wait before answering; Stop() cuts it short
  bool close_connection = false;                // close after this response
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// A small HTTP/1.1 server on 127.0.0.1 with a port chosen by the kernel, for tests. Each
// connection is served by its own thread with keep-alive; every request is recorded. Thread-safe.
class FakeHttpServer {
 public:
  explicit FakeHttpServer(HttpHandler handler);
  ~FakeHttpServer();  // stops
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // Binds 127.0.0.1 port 0 and starts accepting.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Closes every socket and joins every thread; requests still waiting on a delay get no answer.
  // Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  int port() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string url() const;  // "http://127.0.0.1:<port>"

  void SetHandler(HttpHandler handler) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<HttpRequest> requests() const ABSL_LOCKS_EXCLUDED(mu_);
  // Connections accepted since Start(), including closed ones.
  int connections_accepted() const ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until at least `count` requests were recorded; false when `timeout` passes first.
  bool WaitForRequests(size_t count, absl::Duration timeout) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Connection {
    int fd;
    std::thread thread;
  };

  void AcceptLoop();
  void Serve(int fd, int connection_id);
  // Reads one request from `fd` into `request`, keeping bytes of a following one in `buffer`.
  bool ReadRequest(int fd, std::string* buffer, HttpRequest* request);
  bool WaitReadable(int fd);
  bool SleepUnlessStopped(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);

  mutable absl::Mutex mu_;
  HttpHandler handler_ ABSL_GUARDED_BY(mu_);
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<Connection> connections_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int port_ ABSL_GUARDED_BY(mu_) = 0;
  int accepted_ ABSL_GUARDED_BY(mu_) = 0;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};  // written once by Stop() to wake every poll()
  std::thread accept_thread_;
};

}  // namespace runner::fakes

#endif  // RUNNER_TESTS_FAKES_HTTP_FAKE_HTTP_SERVER_H_
