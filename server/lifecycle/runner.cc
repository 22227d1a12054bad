#include "server/lifecycle/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

#include "bridge/adapter/text_transport.h"
#include "server/common/errno_status.h"
#include "server/common/json_merge.h"
#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/lifecycle/exit_codes.h"
#include "server/lifecycle/files.h"
#include "server/lifecycle/worker_config.h"

namespace runner::lifecycle {
namespace {

constexpr char kComponent[] = "runner";

void LogFailure(absl::string_view event, const absl::Status& status) {
  common::LogError(kComponent, event,
                   {{"code", absl::StatusCodeToString(status.code())},
                    {"error", std::string(status.message())}});
}

}  // namespace

absl::Status SetOomScoreAdj(int pid, int value) {
  std::string path = absl::StrCat("/proc/", pid, "/oom_score_adj");
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return common::ErrnoToStatus(errno, absl::StrCat("set oom_score_adj: ", path));
  std::string text = absl::StrCat(value);
  ssize_t n = write(fd, text.data(), text.size());
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return common::ErrnoToStatus(err, absl::StrCat("set oom_score_adj: ", path));
  }
  return absl::OkStatus();
}

Runner::Runner(config::RunnerConfig config, RunStatus* status, RunnerOptions options)
    : config_(std::move(config)), status_(status), options_(options), http_options_(options.http) {
  http_options_.cancellation = &http_cancel_;
  // The real sleeper cannot be woken; ours wakes on a stop request. Tests inject their own.
  if (http_options_.sleeper == taskcluster::Sleeper::Real()) http_options_.sleeper = &http_sleeper_;
}

Runner::~Runner() = default;

void Runner::RequestStop(absl::string_view reason) {
  common::LogInfo(kComponent, "stop requested", {{"reason", reason}});
  providers::Interruption interruption;
  interruption.source = "signal";
  interruption.kind = std::string(reason);
  status_->RecordInterruption(interruption, absl::Now());
  absl::MutexLock lock(&mu_);
  stop_requested_ = true;
  // Before the worker runs (start-up) and after it has exited (exit steps) nothing is worth
  // waiting out a retry budget for.
  if (!worker_started_ || worker_exited_) http_cancel_.Cancel();
}

absl::Status Runner::PrepareRun(int* exit_code) {
  *exit_code = kExitStartup;
  status_->SetProviderType(config_.provider.provider_type);
  status_->SetWorkerImplementation(config_.worker.implementation);

  RUNNER_ASSIGN_OR_RETURN(provider_, providers::MakeProvider(config_.provider));
  {
    auto impl = MakeWorkerImpl(config_.worker);
    if (!impl.ok()) {
      *exit_code = kExitWorkerStart;
      return impl.status();
    }
    worker_impl_ = std::move(impl).value();
  }

  if (!config_.cache_over_restarts.empty()) {
    // TODO: cacheOverRestarts (load, write after configure and after renewals) arrives with the
    // supervision work; until then a run that asks for it must not silently lose its identity.
    return absl::UnimplementedError("cacheOverRestarts is not built yet");
  }

  state_.worker_config = common::MergeJson(nlohmann::json::object(), config_.worker_config);
  RUNNER_ASSIGN_OR_RETURN(std::optional<nlohmann::json> proof, provider_->ConfigureRun(&state_));
  RUNNER_ASSIGN_OR_RETURN(client_, taskcluster::HttpClient::Create(state_.root_url, http_options_));
  worker_manager_ = std::make_unique<taskcluster::WorkerManager>(client_.get());
  if (proof.has_value()) RUNNER_RETURN_IF_ERROR(Register(*proof));

  RUNNER_RETURN_IF_ERROR(state_.CheckComplete());
  {
    absl::MutexLock lock(&mu_);
    credentials_ = state_.credentials;
  }
  common::LogInfo(kComponent, "identified as worker",
                  {{"worker_pool", state_.worker_pool_id},
                   {"worker_group", state_.worker_group},
                   {"worker_id", state_.worker_id}});
  status_->SetIdentity(state_);

  if (config_.get_secrets) {
    taskcluster::SecretsClient secrets(client_.get());
    RUNNER_RETURN_IF_ERROR(common::Annotate(LoadSecrets(&secrets, &state_), "load secrets"));
  }

  *exit_code = kExitWorkerStart;
  RUNNER_RETURN_IF_ERROR(common::Annotate(worker_impl_->ConfigureRun(&state_), "configure worker"));

  *exit_code = kExitStartup;
  RUNNER_RETURN_IF_ERROR(ExtractFiles(state_.files));
  *exit_code = kExitOk;
  return absl::OkStatus();
}

int Runner::Run() {
  int exit_code = kExitOk;
  absl::Status prepared = PrepareRun(&exit_code);
  {
    absl::MutexLock lock(&mu_);
    if (!prepared.ok() && stop_requested_) {
      common::LogInfo(kComponent, "stopped during start-up",
                      {{"error", std::string(prepared.message())}});
      return kExitStopped;
    }
  }
  if (!prepared.ok()) {
    LogFailure("start-up failed", prepared);
    return exit_code;
  }

  {
    absl::MutexLock lock(&mu_);
    if (stop_requested_) {
      common::LogInfo(kComponent, "stopped before the worker started");
      return kExitStopped;
    }
    worker_started_ = true;
  }

  status_->SetPhase(RunPhase::kStartingWorker);
  absl::StatusOr<StartedWorker> started = worker_impl_->Start(state_);
  if (!started.ok()) {
    LogFailure("worker start failed", started.status());
    return kExitWorkerStart;
  }

  int worker_status = 0;
  if (started->attaches) {
    absl::StatusOr<int> attached = SuperviseAttached();
    if (!attached.ok()) {
      return attached.status().code() == absl::StatusCode::kCancelled ? kExitStopped
                                                                      : kExitWorkerStart;
    }
    worker_status = *attached;
  } else if (started->process == nullptr) {
    // An in-process worker (dummy): a null channel that counts as negotiated with no
    // capabilities, and a worker that has already finished.
    status_->SetNegotiated({});
    status_->SetWorkerExited(0);
    status_->SetPhase(RunPhase::kStopping);
  } else {
    // Supervise() moves the status to stopping as soon as the worker has exited.
    worker_status = Supervise(started->process.get());
  }

  if (!api_queue_.Drain(options_.api_drain_timeout)) {
    common::LogWarning(kComponent, "worker-manager calls still pending at exit; cancelling them",
                       {{"waited", absl::FormatDuration(options_.api_drain_timeout)}});
    http_cancel_.Cancel();
  }
  api_queue_.Stop(absl::ZeroDuration());
  ExitSteps(/*clean_exit=*/worker_status == 0);

  absl::MutexLock lock(&mu_);
  if (stop_requested_) return kExitStopped;
  return worker_status == 0 ? kExitOk : kExitWorkerFailed;
}

int Runner::Supervise(adapter::Subprocess* process) {
  const int pid = process->pid();
  common::LogInfo(kComponent, "worker started",
                  {{"implementation", worker_impl_->name()}, {"pid", pid}});
  status_->SetWorkerStarted(pid);
  absl::Status oom = SetOomScoreAdj(pid, -1000);
  if (!oom.ok()) {
    common::LogDebug(kComponent, "could not protect worker from the OOM killer",
                     {{"error", std::string(oom.message())}});
  }

  adapter::TextTransport transport(process->TakeStdoutFd(), process->TakeStdinFd());
  workerproto::RunnerSession session(workerproto::Capabilities::RunnerDefaults(), &transport, this);
  {
    absl::MutexLock lock(&mu_);
    session_ = &session;
  }
  session.Start();
  transport.Start(&session);
  status_->SetPhase(RunPhase::kRunning);

  absl::Status watching = provider_->StartWatching(this);
  if (!watching.ok()) LogFailure("interruption watch failed to start", watching);

  std::thread stopper(
      [this, process] { StopWorkerWhenAsked([process](int signal) { process->Signal(signal); }); });
  int worker_status = process->Wait();
  {
    absl::MutexLock lock(&mu_);
    worker_exited_ = true;
  }
  stopper.join();
  status_->SetWorkerExited(worker_status);
  status_->SetPhase(RunPhase::kStopping);
  common::LogInfo(kComponent, "worker exited", {{"pid", pid}, {"status", worker_status}});

  // The worker's last words may still be in the pipe; read them, but do not wait forever on a
  // pipe that a left-over child of the worker keeps open.
  if (!transport.WaitForEof(options_.output_drain_timeout)) {
    common::LogWarning(kComponent, "worker output still open after exit; not waiting for it");
  }
  provider_->StopWatching();
  transport.Stop();
  session.Close();
  {
    absl::MutexLock lock(&mu_);
    session_ = nullptr;
  }
  return worker_status;
}

void Runner::StopWorkerWhenAsked(const std::function<void(int)>& signal_worker) {
  {
    absl::MutexLock lock(&mu_);
    auto asked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_requested_ || worker_exited_;
    };
    mu_.Await(absl::Condition(&asked));
    if (worker_exited_) return;
  }

  auto result = SendTerminationOnce();
  auto exited = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return worker_exited_; };
  bool can_wait = result == workerproto::RunnerSession::SendResult::kSent ||
                  result == workerproto::RunnerSession::SendResult::kQueued;
  if (can_wait) {
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&exited), options_.stop_grace_period)) return;
  }

  common::LogWarning(kComponent, "terminating worker", {{"signal", "SIGTERM"}});
  signal_worker(SIGTERM);
  {
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&exited), options_.kill_grace_period)) return;
  }
  common::LogWarning(kComponent, "killing worker", {{"signal", "SIGKILL"}});
  signal_worker(SIGKILL);
}

workerproto::RunnerSession::SendResult Runner::SendTerminationOnce() {
  workerproto::RunnerSession* session = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (termination_sent_ || session_ == nullptr) {
      return workerproto::RunnerSession::SendResult::kClosed;
    }
    termination_sent_ = true;
    session = session_;
  }
  auto result = session->SendGracefulTermination(/*finish_tasks=*/false);
  using SendResult = workerproto::RunnerSession::SendResult;
  const char* outcome = result == SendResult::kSent     ? "sent"
                        : result == SendResult::kQueued ? "queued until hello"
                                                        : "not possible";
  common::LogInfo(kComponent, "graceful-termination", {{"outcome", outcome}});
  return result;
}

absl::Status Runner::Register(const nlohmann::json& proof) {
  RUNNER_ASSIGN_OR_RETURN(taskcluster::IssuedCredentials issued,
                          worker_manager_->RegisterWorker(Identity(), state_.provider_id, proof,
                                                          taskcluster::SystemBootTime()));
  state_.credentials = issued.credentials;
  state_.credentials_expire = issued.expires;
  state_.registration_secret = issued.secret;
  common::LogInfo(kComponent, "registered with worker-manager",
                  {{"client_id", issued.credentials.client_id},
                   {"expires", taskcluster::FormatTaskclusterTime(issued.expires)}});
  return common::Annotate(
      ApplyPoolWorkerConfig(issued.worker_config, config_.worker.implementation, &state_),
      "registerWorker response: workerConfig");
}

taskcluster::Credentials Runner::CurrentCredentials() const {
  absl::MutexLock lock(&mu_);
  return credentials_;
}

taskcluster::WorkerIdentity Runner::Identity() const {
  return {state_.worker_pool_id, state_.worker_group, state_.worker_id};
}

void Runner::ExitSteps(bool clean_exit) {
  if (!clean_exit) return;
  if (!provider_->dynamically_provisioned()) {
    common::LogInfo(kComponent, "worker is not dynamically provisioned; nothing to deregister");
    return;
  }
  // TODO: removeWorker (and the shutdown-command fallback) needs the Taskcluster client; the
  // dynamic providers that reach this are not built until it lands.
  common::LogError(kComponent, "deregistration is not built yet");
}

void Runner::OnErrorReport(const workerproto::ErrorReport& report) {
  common::LogWarning("worker", "worker reported an error",
                     {{"kind", report.kind}, {"title", report.title}});
  taskcluster::WorkerErrorReport payload{report.kind, report.title, report.description,
                                         report.extra};
  // The identity is final once the worker runs; the queue stops before what it uses goes away.
  api_queue_.Post("reportWorkerError", [this, payload = std::move(payload)] {
    absl::Status sent =
        worker_manager_->ReportWorkerError(CurrentCredentials(), Identity(), payload);
    if (sent.ok()) {
      common::LogInfo(kComponent, "reported worker error to worker-manager",
                      {{"kind", payload.kind}});
    } else {
      common::LogError(kComponent, "could not report worker error",
                       {{"kind", payload.kind},
                        {"title", payload.title},
                        {"error", std::string(sent.message())}});
    }
  });
}

void Runner::OnShutdown() {
  if (!provider_->dynamically_provisioned()) {
    common::LogInfo(kComponent, "worker asked to shut down; not dynamically provisioned, ignoring");
    return;
  }
  common::LogError(kComponent, "deregistration is not built yet");
}

void Runner::OnNegotiated(const workerproto::Capabilities& usable) {
  std::vector<std::string> list = usable.List();
  status_->SetNegotiated(list);
  common::LogInfo(kComponent, "protocol negotiated", {{"capabilities", absl::StrJoin(list, ",")}});
}

void Runner::OnInterruption(const providers::Interruption& interruption) {
  status_->RecordInterruption(interruption, absl::Now());
  common::LogWarning(kComponent, "interruption notice",
                     {{"source", interruption.source}, {"kind", interruption.kind}});
  if (interruption.terminates) SendTerminationOnce();
}

}  // namespace runner::lifecycle
