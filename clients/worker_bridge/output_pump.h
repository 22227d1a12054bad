#ifndef RUNNER_CLIENTS_WORKER_BRIDGE_OUTPUT_PUMP_H_
#define RUNNER_CLIENTS_WORKER_BRIDGE_OUTPUT_PUMP_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace runner::worker_bridge {

// Reads a worker's stdout on its own thread and hands each complete line to a callback (cut
// lines flagged `oversize`), as the runner's text transport does for the workers it starts.
// Thread-safe.
class OutputPump {
 public:
  using LineFn = std::function<void(absl::string_view line, bool oversize)>;

  // Takes ownership of `fd`; starts reading at once. `on_line` runs on the pump's thread.
  OutputPump(int fd, LineFn on_line);
  ~OutputPump();  // Stop()s
  OutputPump(const OutputPump&) = delete;
  OutputPump& operator=(const OutputPump&) = delete;

  // Waits until the worker's output has reached end of stream, at most `timeout`.
  bool WaitForEof(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops reading (even while other processes hold the pipe open), joins, closes. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop();

  int fd_;
  int stop_pipe_[2] = {-1, -1};
  LineFn on_line_;
  std::thread thread_;

  absl::Mutex mu_;
  bool eof_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace runner::worker_bridge

#endif  // RUNNER_CLIENTS_WORKER_BRIDGE_OUTPUT_PUMP_H_
