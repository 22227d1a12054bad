#include "server/common/stop_signals.h"

#include <pthread.h>
#include <signal.h>

#include <utility>

namespace runner::common {
namespace {

// The three stop requests, and SIGUSR1 to end the waiting thread.
sigset_t StopSignalSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, signal);
  return set;
}

}  // namespace

void BlockStopSignals() {
  sigset_t set = StopSignalSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

StopSignalThread::StopSignalThread(std::function<void(int signal)> on_signal)
    : on_signal_(std::move(on_signal)) {
  thread_ = std::thread([this] { Loop(); });
}

StopSignalThread::~StopSignalThread() {
  done_ = true;
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

void StopSignalThread::Loop() {
  sigset_t set = StopSignalSet();
  while (true) {
    int signal = 0;
    if (sigwait(&set, &signal) != 0) continue;
    if (signal == SIGUSR1) {
      if (done_) return;
      continue;
    }
    on_signal_(signal);
  }
}

}  // namespace runner::common
