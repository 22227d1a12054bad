#ifndef RUNNER_SERVER_LIFECYCLE_ATTACHED_WORKER_H_
#define RUNNER_SERVER_LIFECYCLE_ATTACHED_WORKER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "bridge/adapter/attached_channel.h"
#include "bridge/workerproto/session.h"
#include "server/config/runner_config.h"
#include "server/lifecycle/worker_impl.h"
#include "server/providers/run_state.h"

namespace runner::lifecycle {

// `worker.implementation` of a run whose worker is not started by the runner but attaches over
// the worker channel (usually through `worker-bridge`).
inline constexpr char kExternalImplementation[] = "external";

// The exit status recorded for an attached worker whose stream ended without saying how the
// worker ended (the attacher was killed or lost its connection).
inline constexpr int kLostWorkerStatus = 255;

// worker.implementation external: nothing to configure or start; Start() says the worker
// attaches. Main thread only.
class ExternalWorker : public WorkerImpl {
 public:
  std::string name() const override { return kExternalImplementation; }
  absl::Status ConfigureRun(providers::RunState* state) override;
  absl::StatusOr<StartedWorker> Start(const providers::RunState& state) override;
};

// Where a worker that attaches over the worker channel meets the run waiting for it. One worker
// per run: while one is attached, and once it has gone, further attaches are refused.
//
// The gRPC handler calls Attach(), feeds the returned session until its stream ends, then
// Detach(), which returns once the run no longer uses the channel. The run's main thread calls
// Open(), WaitForAttach(), BeginConversation(), WaitForEnd() and Finish(). Thread-safe.
class AttachedWorkerSlot {
 public:
  // Attaches are refused unless `worker.implementation` is external; the refusal names the
  // implementation the runner starts itself.
  explicit AttachedWorkerSlot(const config::WorkerSettings& worker);

  // --- the gRPC handler's side ---

  // Claims the slot for `channel` (not owned; must stay valid until Detach() returns) and waits
  // until the run has sent `welcome`; then returns the session to feed. An attach that arrives
  // while the runner is still starting up waits for it. kFailedPrecondition when the runner
  // starts its own worker, a worker is already attached or has already ended, or the runner is
  // exiting; the message says which.
  absl::StatusOr<workerproto::RunnerSession*> Attach(adapter::AttachedChannel* channel)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The worker process runs on the attacher's side as `pid`.
  void WorkerStarted(int64_t pid, const std::string& program) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream has ended: `exit_status` as the attacher reported it (nullopt when it did not),
  // `start_error` non-empty when the program never started. Blocks until Finish().
  void Detach(std::optional<int> exit_status, const std::string& start_error)
      ABSL_LOCKS_EXCLUDED(mu_);

  // --- the run's side ---

  using StartedFn = std::function<void(int64_t pid, const std::string& program)>;
  // Starts taking an attach. `on_started` is called (on the handler's thread) when the attacher
  // reports the worker process.
  void Open(StartedFn on_started) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for a worker to attach. Null once Close()d; then closed_reason() says why.
  adapter::AttachedChannel* WaitForAttach() ABSL_LOCKS_EXCLUDED(mu_);
  // Hands the attached channel's session (not owned; valid until Finish()) to the handler.
  void BeginConversation(workerproto::RunnerSession* session) ABSL_LOCKS_EXCLUDED(mu_);

  struct Ending {
    int exit_status = kLostWorkerStatus;
    bool reported = false;    // the attacher said how the worker ended
    std::string start_error;  // the program could not be started
  };
  // Waits until the attached worker's stream has ended.
  Ending WaitForEnd() ABSL_LOCKS_EXCLUDED(mu_);
  // The run no longer uses the channel or the session: the handler may return. Later attaches
  // are refused as "already ended".
  void Finish() ABSL_LOCKS_EXCLUDED(mu_);

  // Refuses every attach from now on and wakes WaitForAttach() and waiting attaches, unless a
  // worker is attached already (then it changes nothing). Any thread. `reason` says why.
  void Close(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);
  std::string closed_reason() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum class State { kNotOpen, kOpen, kAttached, kTalking, kEnded, kFinished, kClosed };

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kNotOpen;
  std::string refusal_ ABSL_GUARDED_BY(mu_);  // set when the runner starts its own worker
  std::string closed_reason_ ABSL_GUARDED_BY(mu_);
  StartedFn on_started_ ABSL_GUARDED_BY(mu_);
  adapter::AttachedChannel* channel_ ABSL_GUARDED_BY(mu_) = nullptr;    // not owned
  workerproto::RunnerSession* session_ ABSL_GUARDED_BY(mu_) = nullptr;  // not owned
  Ending ending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_ATTACHED_WORKER_H_
