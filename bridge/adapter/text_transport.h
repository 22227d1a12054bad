#ifndef RUNNER_BRIDGE_ADAPTER_TEXT_TRANSPORT_H_
#define RUNNER_BRIDGE_ADAPTER_TEXT_TRANSPORT_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "bridge/workerproto/session.h"

namespace runner::adapter {

// The text protocol over a pair of file descriptors (a worker's stdout and stdin): a reader
// thread splits what the worker prints into lines and feeds them to a RunnerSession; Send()
// writes one `~{json}` line with a single write. Writes never block for long: a worker that does
// not read its stdin makes Send() fail after kWriteTimeout. Thread-safe.
class TextTransport : public workerproto::MessageSink {
 public:
  static constexpr absl::Duration kWriteTimeout = absl::Seconds(10);

  // Takes ownership of both descriptors (-1 for "none").
  TextTransport(int read_fd, int write_fd, absl::Duration write_timeout = kWriteTimeout);
  ~TextTransport() override;  // Stop()s
  TextTransport(const TextTransport&) = delete;
  TextTransport& operator=(const TextTransport&) = delete;

  // Starts the reader thread feeding `session` (not owned; must outlive Stop()).
  void Start(workerproto::RunnerSession* session) ABSL_LOCKS_EXCLUDED(mu_);

  bool Send(const workerproto::WorkerMessage& message) override ABSL_LOCKS_EXCLUDED(write_mu_);

  // Waits until the reader has seen end of stream, at most `timeout`. True when it has.
  bool WaitForEof(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  // Stops the reader even if other processes still hold the pipe open, joins it, and closes
  // both descriptors. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_, write_mu_);

 private:
  void ReadLoop(workerproto::RunnerSession* session);

  const absl::Duration write_timeout_;
  int read_fd_;
  int stop_pipe_[2] = {-1, -1};  // written to wake the reader
  std::thread reader_;

  absl::Mutex write_mu_;
  int write_fd_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex mu_;
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace runner::adapter

#endif  // RUNNER_BRIDGE_ADAPTER_TEXT_TRANSPORT_H_
