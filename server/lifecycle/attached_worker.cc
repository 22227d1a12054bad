#include "server/lifecycle/attached_worker.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace runner::lifecycle {

absl::Status ExternalWorker::ConfigureRun(providers::RunState*) { return absl::OkStatus(); }

absl::StatusOr<StartedWorker> ExternalWorker::Start(const providers::RunState&) {
  StartedWorker started;
  started.attaches = true;
  return started;
}

AttachedWorkerSlot::AttachedWorkerSlot(const config::WorkerSettings& worker) {
  absl::MutexLock lock(&mu_);
  if (worker.implementation != kExternalImplementation) {
    refusal_ = absl::StrCat("this runner starts its own worker (worker.implementation ",
                            worker.implementation, "); it takes no attached worker");
  }
}

absl::StatusOr<workerproto::RunnerSession*> AttachedWorkerSlot::Attach(
    adapter::AttachedChannel* channel) {
  absl::MutexLock lock(&mu_);
  if (!refusal_.empty()) return absl::FailedPreconditionError(refusal_);

  // A runner still starting up (registration, secrets, files) opens the slot when it is ready.
  auto decided = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ != State::kNotOpen; };
  mu_.Await(absl::Condition(&decided));
  switch (state_) {
    case State::kOpen:
      break;
    case State::kClosed:
      return absl::FailedPreconditionError(
          absl::StrCat("the runner takes no worker: ", closed_reason_));
    case State::kEnded:
    case State::kFinished:
      return absl::FailedPreconditionError("this runner's attached worker has already ended");
    default:
      return absl::FailedPreconditionError("a worker is already attached to this runner");
  }

  state_ = State::kAttached;
  channel_ = channel;
  auto talking = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ != State::kAttached; };
  mu_.Await(absl::Condition(&talking));
  return session_;
}

void AttachedWorkerSlot::WorkerStarted(int64_t pid, const std::string& program) {
  StartedFn on_started;
  {
    absl::MutexLock lock(&mu_);
    on_started = on_started_;
  }
  if (on_started) on_started(pid, program);
}

void AttachedWorkerSlot::Detach(std::optional<int> exit_status, const std::string& start_error) {
  absl::MutexLock lock(&mu_);
  ending_.reported = exit_status.has_value();
  if (exit_status.has_value()) ending_.exit_status = *exit_status;
  ending_.start_error = start_error;
  state_ = State::kEnded;
  auto finished = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ == State::kFinished; };
  mu_.Await(absl::Condition(&finished));
  channel_ = nullptr;
  session_ = nullptr;
}

void AttachedWorkerSlot::Open(StartedFn on_started) {
  absl::MutexLock lock(&mu_);
  on_started_ = std::move(on_started);
  if (state_ == State::kNotOpen) state_ = State::kOpen;
}

adapter::AttachedChannel* AttachedWorkerSlot::WaitForAttach() {
  absl::MutexLock lock(&mu_);
  auto attached = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return state_ == State::kAttached || state_ == State::kClosed;
  };
  mu_.Await(absl::Condition(&attached));
  return state_ == State::kAttached ? channel_ : nullptr;
}

void AttachedWorkerSlot::BeginConversation(workerproto::RunnerSession* session) {
  absl::MutexLock lock(&mu_);
  session_ = session;
  state_ = State::kTalking;
}

AttachedWorkerSlot::Ending AttachedWorkerSlot::WaitForEnd() {
  absl::MutexLock lock(&mu_);
  auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ == State::kEnded; };
  mu_.Await(absl::Condition(&ended));
  return ending_;
}

void AttachedWorkerSlot::Finish() {
  absl::MutexLock lock(&mu_);
  state_ = State::kFinished;
}

void AttachedWorkerSlot::Close(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (state_ != State::kNotOpen && state_ != State::kOpen) return;
  state_ = State::kClosed;
  closed_reason_ = reason;
}

std::string AttachedWorkerSlot::closed_reason() const {
  absl::MutexLock lock(&mu_);
  return closed_reason_;
}

}  // namespace runner::lifecycle
