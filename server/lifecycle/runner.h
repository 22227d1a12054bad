#ifndef RUNNER_SERVER_LIFECYCLE_RUNNER_H_
#define RUNNER_SERVER_LIFECYCLE_RUNNER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "bridge/adapter/subprocess.h"
#include "bridge/workerproto/session.h"
#include "server/common/cancellation.h"
#include "server/config/runner_config.h"
#include "server/lifecycle/api_queue.h"
#include "server/lifecycle/run_status.h"
#include "server/lifecycle/worker_impl.h"
#include "server/providers/provider.h"
#include "server/providers/run_state.h"
#include "server/taskcluster/credentials.h"
#include "server/taskcluster/http_client.h"
#include "server/taskcluster/worker_manager.h"

namespace runner::lifecycle {

class AttachedWorkerSlot;

struct RunnerOptions {
  // After the worker exits, how long to wait for the rest of its output (other processes may
  // hold its stdout open forever).
  absl::Duration output_drain_timeout = absl::Seconds(2);
  // After a stop request, how long the worker gets to exit after graceful-termination before it
  // is sent SIGTERM, and then how long before SIGKILL.
  absl::Duration stop_grace_period = absl::Seconds(30);
  absl::Duration kill_grace_period = absl::Seconds(5);
  // At exit, how long queued worker-manager calls (error reports) may still run.
  absl::Duration api_drain_timeout = absl::Seconds(30);
  // Retry budget, timeouts, clock and randomness of Taskcluster calls.
  taskcluster::HttpClientOptions http;
  // Where a worker attaches when worker.implementation is external (not owned; must outlive the
  // runner). Without it such a run cannot get a worker.
  AttachedWorkerSlot* attach_slot = nullptr;
};

// One run of start-worker: provider, worker configuration, worker start, supervision until the
// worker exits, and the exit steps. Run() executes on the caller's thread; RequestStop() and the
// session/interruption callbacks may come from any thread. Thread-safe.
class Runner : public workerproto::SessionHandler, public providers::InterruptionSink {
 public:
  // `status` is not owned and must outlive the runner.
  Runner(config::RunnerConfig config, RunStatus* status, RunnerOptions options = {});
  ~Runner() override;

  // Runs the whole sequence and returns start-worker's exit code (exit_codes.h). Blocks until
  // the worker has ended and the exit steps are done. Call once.
  int Run() ABSL_LOCKS_EXCLUDED(mu_);

  // Asks the run to end: the worker gets graceful-termination (finish-tasks false), then SIGTERM
  // and SIGKILL if it outlasts the grace periods. Before the worker starts, start-up is abandoned.
  // Returns at once.
  void RequestStop(absl::string_view reason) ABSL_LOCKS_EXCLUDED(mu_);

  // workerproto::SessionHandler (the transport's reader thread).
  void OnErrorReport(const workerproto::ErrorReport& report) override;
  void OnShutdown() override;
  void OnNegotiated(const workerproto::Capabilities& usable) override;

  // providers::InterruptionSink (a provider's watcher thread).
  void OnInterruption(const providers::Interruption& interruption) override;

 private:
  // Steps up to a worker ready to start; errors carry the exit code to use in `exit_code`.
  absl::Status PrepareRun(int* exit_code);
  // Starts the worker's conversation, waits for it to exit, drains its output; returns its exit
  // status.
  int Supervise(adapter::Subprocess* process);
  // Waits for a worker to attach (worker.implementation external), then supervises it like a
  // started one until its stream ends (runner_attached.cc); returns its exit status.
  // kCancelled when stopped before a worker attached, other codes when none can.
  absl::StatusOr<int> SuperviseAttached() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs while the worker does: turns a stop request into graceful-termination, SIGTERM, SIGKILL
  // (delivered by `signal_worker`).
  void StopWorkerWhenAsked(const std::function<void(int)>& signal_worker) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends graceful-termination (finish-tasks false) at most once per run.
  workerproto::RunnerSession::SendResult SendTerminationOnce() ABSL_LOCKS_EXCLUDED(mu_);
  // registerWorker with the provider's proof; stores the issued credentials and merges the
  // pool's worker config.
  absl::Status Register(const nlohmann::json& proof);
  // Deregistration for dynamically provisioned workers after a clean exit.
  void ExitSteps(bool clean_exit);
  taskcluster::Credentials CurrentCredentials() const ABSL_LOCKS_EXCLUDED(mu_);
  taskcluster::WorkerIdentity Identity() const;

  const config::RunnerConfig config_;
  RunStatus* const status_;  // not owned
  const RunnerOptions options_;

  // Ends Taskcluster calls early: on a stop request before the worker runs, and at exit when
  // the queued calls outlast their drain time.
  common::Cancellation http_cancel_;
  // Waits between retries; wakes at once on cancellation.
  class CancellableSleeper : public taskcluster::Sleeper {
   public:
    explicit CancellableSleeper(const common::Cancellation* cancellation)
        : cancellation_(cancellation) {}
    void Sleep(absl::Duration duration) override { cancellation_->WaitForCancel(duration); }

   private:
    const common::Cancellation* cancellation_;  // not owned
  };
  CancellableSleeper http_sleeper_{&http_cancel_};
  taskcluster::HttpClientOptions http_options_;

  // Main thread only.
  std::unique_ptr<providers::Provider> provider_;
  std::unique_ptr<WorkerImpl> worker_impl_;
  providers::RunState state_;
  std::unique_ptr<taskcluster::HttpClient> client_;
  std::unique_ptr<taskcluster::WorkerManager> worker_manager_;
  // Worker-manager calls asked for by the worker; declared after what they use, so it stops
  // first.
  ApiQueue api_queue_;

  mutable absl::Mutex mu_;
  // The credentials API calls use now (renewal replaces them).
  taskcluster::Credentials credentials_ ABSL_GUARDED_BY(mu_);
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool worker_started_ ABSL_GUARDED_BY(mu_) = false;
  bool worker_exited_ ABSL_GUARDED_BY(mu_) = false;
  bool termination_sent_ ABSL_GUARDED_BY(mu_) = false;
  // The live conversation; set only while Supervise() runs, when every thread that uses it is
  // joined before it goes away.
  workerproto::RunnerSession* session_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// Writes `value` to /proc/<pid>/oom_score_adj (Linux). kPermissionDenied when not allowed.
absl::Status SetOomScoreAdj(int pid, int value);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_RUNNER_H_
