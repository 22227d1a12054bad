#ifndef RUNNER_SERVER_COMMON_STOP_SIGNALS_H_
#define RUNNER_SERVER_COMMON_STOP_SIGNALS_H_

#include <atomic>
#include <functional>
#include <thread>

namespace runner::common {

// Blocks SIGTERM, SIGINT and SIGHUP (and SIGUSR1, which StopSignalThread uses to end) in the
// calling thread and ignores SIGPIPE, so that a write to a process that has gone fails instead of
// killing us. Call before any thread starts: threads inherit the mask, so only a
// StopSignalThread receives the signals.
void BlockStopSignals();

// Calls `on_signal` on its own thread for every SIGTERM, SIGINT or SIGHUP until destroyed.
// `on_signal` must not block for long. Needs BlockStopSignals() first.
class StopSignalThread {
 public:
  explicit StopSignalThread(std::function<void(int signal)> on_signal);
  ~StopSignalThread();  // ends and joins the thread
  StopSignalThread(const StopSignalThread&) = delete;
  StopSignalThread& operator=(const StopSignalThread&) = delete;

 private:
  void Loop();

  const std::function<void(int)> on_signal_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_STOP_SIGNALS_H_
