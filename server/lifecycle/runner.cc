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
#include "server/lifecycle/redacted_config.h"
#include "server/lifecycle/state_cache.h"
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
    : config_(std::move(config)),
      status_(status),
      options_(std::move(options)),
      http_options_(options_.http) {
  http_options_.cancellation = &http_cancel_;
  // The real sleeper cannot be woken; ours wakes on a stop request. Tests inject their own.
  if (http_options_.sleeper == taskcluster::Sleeper::Real()) http_options_.sleeper = &http_sleeper_;
}

Runner::~Runner() { StopRenewal(); }

void Runner::RequestStop(absl::string_view reason) {
  common::LogInfo(kComponent, "stop requested", {{"reason", reason}});
  providers::Interruption interruption;
  interruption.source = "signal";
  interruption.kind = std::string(reason);
  status_->RecordInterruption(interruption, absl::Now());
  absl::MutexLock lock(&mu_);
  ++stop_requests_;
  // Before the worker runs (start-up) and after it has exited (exit steps) nothing is worth
  // waiting out a retry budget for.
  if (!worker_started_ || worker_exited_) http_cancel_.Cancel();
}

absl::Status Runner::PrepareRun(int* exit_code) {
  *exit_code = kExitStartup;
  status_->SetProviderType(config_.provider.provider_type);
  status_->SetWorkerImplementation(config_.worker.implementation);

  RUNNER_ASSIGN_OR_RETURN(provider_, options_.provider_factory(config_.provider));
  {
    auto impl = MakeWorkerImpl(config_.worker);
    if (!impl.ok()) {
      *exit_code = kExitWorkerStart;
      return impl.status();
    }
    worker_impl_ = std::move(impl).value();
  }
  exit_manager_ = std::make_unique<ExitManager>(
      provider_->dynamically_provisioned(),
      [this] { return worker_manager_->RemoveWorker(CurrentCredentials(), Identity()); },
      config_.shutdown.command, options_.shutdown_command_timeout);

  std::optional<providers::RunState> cached;
  if (!config_.cache_over_restarts.empty()) {
    RUNNER_ASSIGN_OR_RETURN(cached,
                            LoadStateCache(config_.cache_over_restarts, options_.clock->Now()));
  }
  if (cached.has_value()) {
    cached_run_ = true;
    RUNNER_RETURN_IF_ERROR(IdentifyFromCache(std::move(*cached)));
  } else {
    RUNNER_RETURN_IF_ERROR(IdentifyFresh());
  }

  if (cached_run_) {
    *exit_code = kExitWorkerStart;
    RUNNER_RETURN_IF_ERROR(
        common::Annotate(worker_impl_->UseCachedRun(&state_), "configure worker from cache"));
    PublishWorkerConfig();
    *exit_code = kExitOk;
    return absl::OkStatus();
  }

  *exit_code = kExitWorkerStart;
  RUNNER_RETURN_IF_ERROR(common::Annotate(worker_impl_->ConfigureRun(&state_), "configure worker"));
  PublishWorkerConfig();

  *exit_code = kExitStartup;
  // Written before the files are extracted: a cached restart never extracts them again.
  if (!config_.cache_over_restarts.empty()) {
    RUNNER_RETURN_IF_ERROR(WriteStateCache(config_.cache_over_restarts, state_));
    common::LogInfo(kComponent, "wrote cacheOverRestarts file",
                    {{"file", config_.cache_over_restarts}});
  }
  RUNNER_RETURN_IF_ERROR(ExtractFiles(state_.files));
  *exit_code = kExitOk;
  return absl::OkStatus();
}

absl::Status Runner::IdentifyFresh() {
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
  return absl::OkStatus();
}

absl::Status Runner::IdentifyFromCache(providers::RunState cached) {
  common::LogInfo(kComponent, "resuming from cacheOverRestarts file",
                  {{"file", config_.cache_over_restarts}});
  common::Logger& logger = common::Logger::Default();
  logger.AddSecret(cached.credentials.access_token);
  logger.AddSecret(cached.credentials.certificate);
  logger.AddSecret(cached.registration_secret);
  state_ = std::move(cached);
  // The runner file's workerConfig still applies on top of the cached one.
  state_.worker_config = common::MergeJson(state_.worker_config, config_.worker_config);
  RUNNER_RETURN_IF_ERROR(common::Annotate(
      provider_->UseCachedRun(&state_),
      absl::StrCat("resume from cacheOverRestarts file ", config_.cache_over_restarts)));
  RUNNER_ASSIGN_OR_RETURN(client_, taskcluster::HttpClient::Create(state_.root_url, http_options_));
  worker_manager_ = std::make_unique<taskcluster::WorkerManager>(client_.get());
  RUNNER_RETURN_IF_ERROR(
      common::Annotate(state_.CheckComplete(),
                       absl::StrCat("cacheOverRestarts file ", config_.cache_over_restarts)));
  {
    absl::MutexLock lock(&mu_);
    credentials_ = state_.credentials;
  }
  common::LogInfo(kComponent, "identified as worker",
                  {{"worker_pool", state_.worker_pool_id},
                   {"worker_group", state_.worker_group},
                   {"worker_id", state_.worker_id},
                   {"from", "cache"}});
  status_->SetIdentity(state_);
  return absl::OkStatus();
}

void Runner::FailStartup(const absl::Status& error, int exit_code) {
  if (provider_ == nullptr || !provider_->dynamically_provisioned() || exit_manager_ == nullptr) {
    return;
  }
  taskcluster::Credentials credentials = CurrentCredentials();
  if (worker_manager_ != nullptr && !credentials.client_id.empty() &&
      !state_.worker_pool_id.empty()) {
    taskcluster::WorkerErrorReport report;
    report.kind = "worker-runner-startup-error";
    report.title = "start-worker could not start the worker";
    // Messages never carry configuration values or secrets; bounded to the API's limit.
    report.description = std::string(error.message()).substr(0, 10000);
    report.extra = {{"exitCode", exit_code}, {"code", absl::StatusCodeToString(error.code())}};
    api_queue_.Post("reportWorkerError", [this, credentials, report] {
      absl::Status sent = worker_manager_->ReportWorkerError(credentials, Identity(), report);
      if (!sent.ok()) {
        common::LogError(kComponent, "could not report start-up failure",
                         {{"error", std::string(sent.message())}});
      }
    });
    if (!api_queue_.Drain(options_.api_drain_timeout)) http_cancel_.Cancel();
    api_queue_.Stop(absl::ZeroDuration());
  }
  exit_manager_->PowerOff("fatal start-up error on a cloud instance");
}

int Runner::Run() {
  int exit_code = kExitOk;
  absl::Status prepared = PrepareRun(&exit_code);
  {
    absl::MutexLock lock(&mu_);
    if (!prepared.ok() && stop_requests_ > 0) {
      common::LogInfo(kComponent, "stopped during start-up",
                      {{"error", std::string(prepared.message())}});
      return kExitStopped;
    }
  }
  if (!prepared.ok()) {
    LogFailure("start-up failed", prepared);
    FailStartup(prepared, exit_code);
    return exit_code;
  }

  {
    absl::MutexLock lock(&mu_);
    if (stop_requests_ > 0) {
      common::LogInfo(kComponent, "stopped before the worker started");
      return kExitStopped;
    }
    worker_started_ = true;
  }

  status_->SetPhase(RunPhase::kStartingWorker);
  absl::StatusOr<StartedWorker> started = worker_impl_->Start(state_);
  if (!started.ok()) {
    LogFailure("worker start failed", started.status());
    FailStartup(started.status(), kExitWorkerStart);
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
  return ExitSteps(worker_status);
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

  StartRenewal();

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
  StopRenewal();

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

void Runner::StartRenewal() {
  // Renewal applies whenever the credentials expire (not standalone).
  if (state_.credentials_expire.has_value()) {
    if (state_.registration_secret.empty()) {
      common::LogWarning(kComponent,
                         "credentials expire but there is no registration secret to renew them");
    } else {
      taskcluster::HttpClientOptions renew_http = http_options_;
      renew_http.cancellation = &renew_cancel_;
      if (renew_http.sleeper == &http_sleeper_) renew_http.sleeper = &renew_sleeper_;
      auto renew_client = taskcluster::HttpClient::Create(state_.root_url, renew_http);
      if (renew_client.ok()) {
        renew_client_ = std::move(renew_client).value();
        renew_manager_ = std::make_unique<taskcluster::WorkerManager>(renew_client_.get());
        renewal_state_ = state_;
        RenewalOptions renewal_options = options_.renewal;
        renewal_options.clock = options_.clock;
        renewal_ = std::make_unique<CredentialRenewal>(this, renewal_options);
        renewal_->Start(*state_.credentials_expire);
      } else {
        LogFailure("credential renewal disabled", renew_client.status());
      }
    }
  }
}

void Runner::StopRenewal() {
  if (renewal_ == nullptr) return;
  renew_cancel_.Cancel();
  renewal_->Stop();
}

void Runner::StopWorkerWhenAsked(const std::function<void(int)>& signal_worker) {
  {
    absl::MutexLock lock(&mu_);
    auto asked = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_requests_ > 0 || worker_exited_;
    };
    mu_.Await(absl::Condition(&asked));
    if (worker_exited_) return;
  }

  auto result = SendTerminationOnce();
  auto exited = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return worker_exited_; };
  // A second stop request during the grace period cuts it short.
  auto exited_or_insisted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return worker_exited_ || stop_requests_ > 1;
  };
  bool can_wait = result == workerproto::RunnerSession::SendResult::kSent ||
                  result == workerproto::RunnerSession::SendResult::kQueued;
  const absl::Duration grace = options_.stop_grace_period.value_or(config_.shutdown.grace_period);
  if (can_wait) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&exited_or_insisted), grace);
    if (worker_exited_) return;
    if (stop_requests_ > 1) {
      common::LogWarning(kComponent, "second stop request; not waiting out the grace period");
    }
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

void Runner::PublishWorkerConfig() {
  // The configuration is final: the API may show it from now on.
  status_->SetWorkerConfig(
      RedactWorkerConfig(state_, {config_.provider.access_token, config_.provider.static_secret}));
}

DrainOutcome Runner::Drain(bool finish_tasks, uint32_t caller_uid) {
  common::LogInfo(kComponent, "drain requested",
                  {{"finish_tasks", finish_tasks ? "true" : "false"}, {"uid", caller_uid}});
  DrainOutcome outcome = DrainOutcome::kNoWorker;
  SendTerminationOnce(finish_tasks, &outcome);
  status_->PublishDrain(finish_tasks, outcome, caller_uid);
  return outcome;
}

workerproto::RunnerSession::SendResult Runner::SendTerminationOnce(bool finish_tasks,
                                                                   DrainOutcome* outcome) {
  using SendResult = workerproto::RunnerSession::SendResult;
  DrainOutcome ignored;
  if (outcome == nullptr) outcome = &ignored;
  workerproto::RunnerSession* session = nullptr;
  {
    absl::MutexLock lock(&mu_);
    // Already asked (renewal, interruption, drain): the stopper still waits the grace period.
    if (termination_sent_) {
      // What the first send did decides whether a stop may wait for the worker (a drain before
      // SIGTERM still earns the worker its grace period).
      *outcome = DrainOutcome::kAlreadySent;
      return termination_result_;
    }
    if (session_ == nullptr) {
      *outcome = DrainOutcome::kNoWorker;
      return SendResult::kClosed;
    }
    termination_sent_ = true;
    session = session_;
  }
  auto result = session->SendGracefulTermination(finish_tasks);
  {
    absl::MutexLock lock(&mu_);
    termination_result_ = result;
  }
  *outcome = result == SendResult::kSent     ? DrainOutcome::kSent
             : result == SendResult::kQueued ? DrainOutcome::kQueued
             : result == SendResult::kClosed ? DrainOutcome::kNoWorker
                                             : DrainOutcome::kNotCapable;
  const char* said = result == SendResult::kSent     ? "sent"
                     : result == SendResult::kQueued ? "queued until hello"
                                                     : "not possible";
  common::LogInfo(kComponent, "graceful-termination",
                  {{"outcome", said}, {"finish_tasks", finish_tasks ? "true" : "false"}});
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

RenewalDelegate::Path Runner::ChoosePath() {
  workerproto::RunnerSession* session = nullptr;
  {
    absl::MutexLock lock(&mu_);
    session = session_;
  }
  // The session outlives the renewal thread (Supervise stops it first).
  if (session == nullptr) return Path::kStopped;
  bool said = false;
  while (!session->negotiated()) {
    if (renew_cancel_.cancelled()) return Path::kStopped;
    if (!said) {
      common::LogWarning(kComponent, "credentials due for renewal; waiting for the worker's hello");
      said = true;
    }
    // Polled: a session closed before hello would make WaitCapable return at once.
    if (renew_cancel_.WaitForCancel(absl::Milliseconds(200))) return Path::kStopped;
  }
  if (renew_cancel_.cancelled()) return Path::kStopped;
  workerproto::Capabilities usable = session->usable();
  if (usable.Has(workerproto::kCapNewCredentials)) return Path::kRenew;
  if (usable.Has(workerproto::kCapGracefulTermination)) return Path::kTerminate;
  return Path::kNone;
}

absl::StatusOr<absl::Time> Runner::Renew() {
  const taskcluster::Credentials current = CurrentCredentials();
  RUNNER_ASSIGN_OR_RETURN(
      taskcluster::IssuedCredentials issued,
      renew_manager_->ReregisterWorker(current, Identity(), renewal_state_.registration_secret));
  if (issued.secret.empty()) {
    return absl::InvalidArgumentError("reregisterWorker response: no secret");
  }
  renewal_state_.credentials = issued.credentials;
  renewal_state_.credentials_expire = issued.expires;
  renewal_state_.registration_secret = issued.secret;
  {
    absl::MutexLock lock(&mu_);
    credentials_ = issued.credentials;
  }
  status_->SetCredentialsExpire(issued.expires);
  common::LogInfo(kComponent, "renewed credentials",
                  {{"client_id", issued.credentials.client_id},
                   {"expires", taskcluster::FormatTaskclusterTime(issued.expires)}});

  workerproto::RunnerSession* session = nullptr;
  {
    absl::MutexLock lock(&mu_);
    session = session_;
  }
  if (session != nullptr) {
    auto sent =
        session->SendNewCredentials(issued.credentials.client_id, issued.credentials.access_token,
                                    issued.credentials.certificate);
    if (sent != workerproto::RunnerSession::SendResult::kSent) {
      common::LogWarning(kComponent, "could not send new-credentials to the worker");
    }
  }

  // A restart must never start from stale credentials: the worker's config file and the cache.
  absl::Status updated = worker_impl_->UpdateCredentials(&renewal_state_);
  if (!updated.ok()) LogFailure("could not update the worker config", updated);
  if (!config_.cache_over_restarts.empty()) {
    absl::Status written = WriteStateCache(config_.cache_over_restarts, renewal_state_);
    if (written.ok()) {
      common::LogInfo(kComponent, "rewrote cacheOverRestarts file",
                      {{"file", config_.cache_over_restarts}});
    } else {
      LogFailure("could not rewrite cacheOverRestarts file", written);
      Terminate("the cacheOverRestarts file could not be updated");
    }
  }
  return issued.expires;
}

void Runner::Terminate(absl::string_view why) {
  common::LogWarning(kComponent, "asking the worker to stop", {{"why", why}});
  SendTerminationOnce();
}

int Runner::ExitSteps(int worker_status) {
  bool stopped;
  {
    absl::MutexLock lock(&mu_);
    stopped = stop_requests_ > 0;
  }
  // A stop request changes only the exit code: the worker's exit status still decides whether it
  // is removed.
  if (worker_status == kWorkerRebootStatus) {
    common::LogInfo(kComponent,
                    "worker exited 67: it is rebooting the host; keeping the worker registered",
                    {{"cache", config_.cache_over_restarts}});
    return stopped ? kExitStopped : kExitWorkerReboot;
  }
  if (worker_status != 0) {
    if (exit_manager_->remove_attempted()) {
      common::LogInfo(kComponent, "worker failed after asking to shut down; already removed");
    }
    return stopped ? kExitStopped : kExitWorkerFailed;
  }
  absl::Status removed = exit_manager_->RemoveWorker("worker exited cleanly");
  if (stopped) return kExitStopped;
  return removed.ok() ? kExitOk : kExitRemoveFailed;
}

void Runner::OnErrorReport(const workerproto::ErrorReport& report) {
  status_->PublishErrorReport(report.kind, report.title, report.description);
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
  status_->PublishShutdownRequest();
  if (!provider_->dynamically_provisioned()) {
    common::LogInfo(kComponent, "worker asked to shut down; not dynamically provisioned, ignoring");
    return;
  }
  common::LogInfo(kComponent, "worker asked to shut down");
  // The reader thread must not wait on the network: the call runs on the API queue, and the
  // exit path later finds it done (removeWorker runs once per run).
  api_queue_.Post("removeWorker",
                  [this] { exit_manager_->RemoveWorker("worker sent shutdown").IgnoreError(); });
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
