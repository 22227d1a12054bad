// Runner::SuperviseAttached: the run of a worker that attaches over the worker channel instead of
// being started (worker.implementation external). Kept apart from runner.cc; it shares the
// stop logic (StopWorkerWhenAsked) and the session handling with started workers.
#include <signal.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"

#include "server/common/logger.h"
#include "server/lifecycle/attached_worker.h"
#include "server/lifecycle/runner.h"

namespace runner::lifecycle {
namespace {

constexpr char kComponent[] = "runner";

}  // namespace

absl::StatusOr<int> Runner::SuperviseAttached() {
  AttachedWorkerSlot* slot = options_.attach_slot;
  if (slot == nullptr) {
    absl::Status status = absl::FailedPreconditionError(
        "worker.implementation external: no worker channel to attach to");
    common::LogError(kComponent, "worker start failed", {{"error", std::string(status.message())}});
    return status;
  }

  slot->Open([this](int64_t pid, const std::string& program) {
    common::LogInfo(
        kComponent, "worker started",
        {{"implementation", kExternalImplementation}, {"pid", pid}, {"program", program}});
    status_->SetWorkerStarted(static_cast<int>(pid));
  });
  common::LogInfo(kComponent, "waiting for a worker to attach", {{"socket", config_.api.socket}});

  // A stop request while nobody has attached yet ends the wait; the watcher goes once one has.
  bool waiting = true;  // guarded by mu_
  std::thread stop_watch([this, slot, &waiting] {
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      auto decided = [this, &waiting]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_requests_ > 0 || !waiting;
      };
      mu_.Await(absl::Condition(&decided));
      stop = waiting;
    }
    if (stop) slot->Close("the runner is stopping");
  });
  adapter::AttachedChannel* channel = slot->WaitForAttach();
  {
    absl::MutexLock lock(&mu_);
    waiting = false;
  }
  stop_watch.join();
  if (channel == nullptr) {
    absl::MutexLock lock(&mu_);
    if (stop_requests_ > 0) {
      common::LogInfo(kComponent, "stopped before a worker attached");
      return absl::CancelledError("stopped before a worker attached");
    }
    common::LogError(kComponent, "no worker can attach", {{"reason", slot->closed_reason()}});
    return absl::FailedPreconditionError(slot->closed_reason());
  }
  common::LogInfo(kComponent, "worker attached");

  workerproto::RunnerSession session(workerproto::Capabilities::RunnerDefaults(), channel, this);
  {
    absl::MutexLock lock(&mu_);
    session_ = &session;
  }
  session.Start();
  slot->BeginConversation(&session);
  status_->SetPhase(RunPhase::kRunning);
  StartRenewal();

  absl::Status watching = provider_->StartWatching(this);
  if (!watching.ok()) {
    common::LogError(kComponent, "interruption watch failed to start",
                     {{"error", std::string(watching.message())}});
  }

  // The stop escalation goes through the attacher, which signals the worker process.
  std::thread stopper([this, channel] {
    StopWorkerWhenAsked([channel](int signal) {
      if (!channel->SignalWorker(signal)) {
        common::LogWarning(kComponent, "could not ask the attached worker's bridge to signal it",
                           {{"signal", signal}});
      }
    });
    // After SIGKILL a bridge that still keeps the stream open is not going to end it: end it
    // here so the run can finish.
    {
      absl::MutexLock lock(&mu_);
      auto exited = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return worker_exited_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&exited), options_.kill_grace_period)) return;
    }
    common::LogError(kComponent, "attached worker's stream still open after SIGKILL; closing it");
    channel->Abandon();
  });
  AttachedWorkerSlot::Ending ending = slot->WaitForEnd();
  {
    absl::MutexLock lock(&mu_);
    worker_exited_ = true;
  }
  stopper.join();
  StopRenewal();
  provider_->StopWatching();
  session.Close();
  {
    absl::MutexLock lock(&mu_);
    session_ = nullptr;
  }
  slot->Finish();

  status_->SetWorkerExited(ending.exit_status);
  status_->SetPhase(RunPhase::kStopping);
  if (!ending.start_error.empty()) {
    common::LogError(kComponent, "worker start failed",
                     {{"implementation", kExternalImplementation}, {"error", ending.start_error}});
    return absl::FailedPreconditionError(
        absl::StrCat("attached worker could not be started: ", ending.start_error));
  }
  if (!ending.reported) {
    common::LogError(kComponent, "attached worker's stream ended without its exit status",
                     {{"status", ending.exit_status}});
  } else {
    common::LogInfo(kComponent, "worker exited",
                    {{"implementation", kExternalImplementation}, {"status", ending.exit_status}});
  }
  return ending.exit_status;
}

}  // namespace runner::lifecycle
