#ifndef RUNNER_SERVER_LIFECYCLE_RUNNER_H_
#define RUNNER_SERVER_LIFECYCLE_RUNNER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "bridge/adapter/subprocess.h"
#include "bridge/workerproto/session.h"
#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/config/runner_config.h"
#include "server/lifecycle/api_queue.h"
#include "server/lifecycle/exit_manager.h"
#include "server/lifecycle/renewal.h"
#include "server/lifecycle/run_status.h"
#include "server/lifecycle/worker_impl.h"
#include "server/providers/provider.h"
#include "server/providers/run_state.h"
#include "server/taskcluster/credentials.h"
#include "server/taskcluster/http_client.h"
#include "server/taskcluster/worker_manager.h"

namespace runner::lifecycle {

// Makes the run's provider from the config's provider section.
using ProviderFactory = std::function<absl::StatusOr<std::unique_ptr<providers::Provider>>(
    const config::ProviderConfig&)>;
class AttachedWorkerSlot;

struct RunnerOptions {
  // After the worker exits, how long to wait for the rest of its output (other processes may
  // hold its stdout open forever).
  absl::Duration output_drain_timeout = absl::Seconds(2);
  // After a stop request, how long the worker gets to exit after graceful-termination before it
  // is sent SIGTERM (unset: the config's shutdown.gracePeriod), and then how long before SIGKILL.
  std::optional<absl::Duration> stop_grace_period;
  absl::Duration kill_grace_period = absl::Seconds(5);
  // At exit, how long queued worker-manager calls (error reports) may still run.
  absl::Duration api_drain_timeout = absl::Seconds(30);
  // Retry budget, timeouts, clock and randomness of Taskcluster calls.
  taskcluster::HttpClientOptions http;
  // The provider of the run (tests inject fakes).
  ProviderFactory provider_factory = providers::MakeProvider;
  // Wall clock for the renewal schedule and the cache's expiry check; not owned. The renewal's
  // own clock field is replaced by this one.
  const common::Clock* clock = common::Clock::Real();
  // Renewal schedule slices and retry waits.
  RenewalOptions renewal;
  // How long shutdown.command may take.
  absl::Duration shutdown_command_timeout = absl::Minutes(2);
  // Where a worker attaches when worker.implementation is external (not owned; must outlive the
  // runner). Without it such a run cannot get a worker.
  AttachedWorkerSlot* attach_slot = nullptr;
};

// One run of start-worker: provider, worker configuration, worker start, supervision until the
// worker exits, and the exit steps. Run() executes on the caller's thread; RequestStop() and the
// session/interruption callbacks may come from any thread. Thread-safe.
class Runner : public workerproto::SessionHandler,
               public providers::InterruptionSink,
               public RenewalDelegate {
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

  // Asks the worker to terminate gracefully through the same send-once path as an interruption,
  // and publishes a drain event naming `caller_uid`. Does not stop the run or signal the worker.
  // Returns at once (any thread).
  DrainOutcome Drain(bool finish_tasks, uint32_t caller_uid) ABSL_LOCKS_EXCLUDED(mu_);

  // workerproto::SessionHandler (the transport's reader thread).
  void OnErrorReport(const workerproto::ErrorReport& report) override;
  void OnShutdown() override;
  void OnNegotiated(const workerproto::Capabilities& usable) override;

  // providers::InterruptionSink (a provider's watcher thread).
  void OnInterruption(const providers::Interruption& interruption) override;

 private:
  // Steps up to a worker ready to start; errors carry the exit code to use in `exit_code`.
  absl::Status PrepareRun(int* exit_code);
  // Fresh run: provider configure, registration, secrets. Cached run: the cache's state.
  absl::Status IdentifyFresh();
  absl::Status IdentifyFromCache(providers::RunState cached);
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
  // Sends graceful-termination at most once per run; later calls return the first call's result.
  // `outcome` (optional) says what happened.
  workerproto::RunnerSession::SendResult SendTerminationOnce(bool finish_tasks = false,
                                                             DrainOutcome* outcome = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // While a worker runs: renews expiring credentials on the renewal thread (when the run has
  // expiring credentials and a registration secret), and stops that thread.
  void StartRenewal();
  void StopRenewal();
  // Hands the final worker configuration, redacted, to the status for the API.
  void PublishWorkerConfig();
  // registerWorker with the provider's proof; stores the issued credentials and merges the
  // pool's worker config.
  absl::Status Register(const nlohmann::json& proof);
  // After a fatal start-up error on a cloud instance: report it (when there are credentials) and
  // run shutdown.command, so the instance does not idle.
  void FailStartup(const absl::Status& error, int exit_code);
  // The end of the run for the worker's exit status: removeWorker after a clean exit (dynamic
  // providers), nothing for a reboot (67). Returns the exit code.
  int ExitSteps(int worker_status) ABSL_LOCKS_EXCLUDED(mu_);
  taskcluster::Credentials CurrentCredentials() const ABSL_LOCKS_EXCLUDED(mu_);
  taskcluster::WorkerIdentity Identity() const;

  // RenewalDelegate (the renewal thread).
  Path ChoosePath() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<absl::Time> Renew() override ABSL_LOCKS_EXCLUDED(mu_);
  void Terminate(absl::string_view why) override ABSL_LOCKS_EXCLUDED(mu_);

  const config::RunnerConfig config_;
  RunStatus* const status_;  // not owned
  const RunnerOptions options_;

  // Ends Taskcluster calls early: on a stop request before the worker runs, and at exit when
  // the queued calls outlast their drain time.
  common::Cancellation http_cancel_;
  // Ends the renewal's calls and waits when the worker has exited.
  common::Cancellation renew_cancel_;
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
  CancellableSleeper renew_sleeper_{&renew_cancel_};
  taskcluster::HttpClientOptions http_options_;

  // Main thread only.
  std::unique_ptr<providers::Provider> provider_;
  std::unique_ptr<WorkerImpl> worker_impl_;
  // Once the worker starts, only its identity fields are read (from any thread); they never
  // change after start-up.
  providers::RunState state_;
  bool cached_run_ = false;
  std::unique_ptr<taskcluster::HttpClient> client_;
  std::unique_ptr<taskcluster::WorkerManager> worker_manager_;
  // The renewal's own client, so ending the renewal does not cancel the exit's calls.
  std::unique_ptr<taskcluster::HttpClient> renew_client_;
  std::unique_ptr<taskcluster::WorkerManager> renew_manager_;
  // Renewal thread only (handed over before it starts): the state that is written to the worker
  // config file and the cache after each renewal.
  providers::RunState renewal_state_;
  // removeWorker once per run, and the power-off fallback.
  std::unique_ptr<ExitManager> exit_manager_;
  // Worker-manager calls asked for by the worker; declared after what they use, so it stops
  // first.
  ApiQueue api_queue_;
  // Declared last: it is stopped (joined) before anything it uses goes away.
  std::unique_ptr<CredentialRenewal> renewal_;

  mutable absl::Mutex mu_;
  // The credentials API calls use now (renewal replaces them).
  taskcluster::Credentials credentials_ ABSL_GUARDED_BY(mu_);
  int stop_requests_ ABSL_GUARDED_BY(mu_) = 0;
  bool worker_started_ ABSL_GUARDED_BY(mu_) = false;
  bool worker_exited_ ABSL_GUARDED_BY(mu_) = false;
  bool termination_sent_ ABSL_GUARDED_BY(mu_) = false;
  // What the one graceful-termination send gave (kSent until it has returned).
  workerproto::RunnerSession::SendResult termination_result_ ABSL_GUARDED_BY(mu_) =
      workerproto::RunnerSession::SendResult::kSent;
  // The live conversation; set only while Supervise() runs, when every thread that uses it is
  // joined before it goes away.
  workerproto::RunnerSession* session_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// Writes `value` to /proc/<pid>/oom_score_adj (Linux). kPermissionDenied when not allowed.
absl::Status SetOomScoreAdj(int pid, int value);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_RUNNER_H_
