#include "bridge/workerproto/session.h"

#include <utility>

#include "absl/strings/str_join.h"

#include "server/common/log_record.h"
#include "server/common/logger.h"

namespace runner::workerproto {
namespace {

using common::Logger;
using common::LogLevel;

constexpr char kComponent[] = "worker";

std::string JoinNames(const Capabilities& capabilities) {
  return absl::StrJoin(capabilities.List(), ",");
}

}  // namespace

RunnerSession::RunnerSession(Capabilities offered, MessageSink* sink, SessionHandler* handler)
    : offered_(std::move(offered)), sink_(sink), handler_(handler) {}

void RunnerSession::Start() {
  WorkerMessage welcome;
  auto* capabilities = welcome.mutable_welcome()->mutable_capabilities();
  for (const std::string& name : offered_.List()) capabilities->Add(std::string(name));
  if (!sink_->Send(welcome)) {
    common::LogWarning(kComponent, "could not send welcome to worker");
  }
}

void RunnerSession::HandleLine(absl::string_view line) {
  DecodedLine decoded = DecodeLine(line);
  switch (decoded.kind) {
    case DecodedLine::Kind::kText:
      HandleText(decoded.text);
      break;
    case DecodedLine::Kind::kMalformed:
      // The problem names properties and JSON types only; the line itself may hold secrets.
      common::LogWarning(kComponent, "dropped malformed message from worker",
                         {{"type", MessageType(decoded.message)}, {"problem", decoded.problem}});
      break;
    case DecodedLine::Kind::kMessage:
      if (decoded.message.has_hello()) {
        const auto& names = decoded.message.hello().capabilities();
        HandleHello(std::vector<std::string>(names.begin(), names.end()), decoded.problem);
      } else {
        HandleMessage(decoded.message);
      }
      break;
  }
}

void RunnerSession::HandleMessage(const WorkerMessage& message) {
  // Like upstream, requests are honoured whatever was negotiated, even before hello.
  switch (message.kind_case()) {
    case WorkerMessage::kHello: {
      const auto& names = message.hello().capabilities();
      HandleHello(std::vector<std::string>(names.begin(), names.end()), /*problem=*/"");
      return;
    }
    case WorkerMessage::kLog:
      HandleLog(message);
      return;
    case WorkerMessage::kErrorReport:
      HandleErrorReport(message);
      return;
    case WorkerMessage::kShutdown:
      if (handler_ != nullptr) {
        handler_->OnShutdown();
        return;
      }
      break;
    default:
      break;
  }
  common::LogWarning(kComponent, "no handler for message", {{"type", MessageType(message)}});
}

void RunnerSession::HandleText(absl::string_view text) {
  // Upstream relays blank lines as empty messages; they carry nothing, so they are skipped.
  if (text.empty()) return;
  Logger::Default().LogRelayed(LogLevel::kInfo, kComponent, text);
}

void RunnerSession::HandleOversizeLine(absl::string_view start, size_t total_size) {
  common::LogWarning(kComponent, "cut oversize line from worker",
                     {{"bytes", total_size}, {"kept", start.size()}});
  // Cut here rather than in LogRelayed, whose truncation note would count from `start`.
  Logger::Default().LogRelayed(LogLevel::kInfo, kComponent,
                               start.substr(0, Logger::kMaxRelayedText));
}

void RunnerSession::Close() {
  size_t dropped = 0;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    dropped = pending_.size();
    pending_.clear();
  }
  if (dropped > 0) {
    common::LogDebug(kComponent, "dropped queued messages, worker gone", {{"count", dropped}});
  }
}

RunnerSession::SendResult RunnerSession::SendWhenCapable(absl::string_view capability,
                                                         const WorkerMessage& message) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return SendResult::kClosed;
    if (negotiated_ && !usable_.Has(capability)) return SendResult::kNotCapable;
    if (!negotiated_ || flushing_) {
      pending_.push_back(Pending{std::string(capability), message});
      return SendResult::kQueued;
    }
  }

  // mu_ is released: the sink may block on a worker that reads slowly.
  if (!sink_->Send(message)) {
    common::LogWarning(kComponent, "could not send message to worker",
                       {{"type", MessageType(message)}});
    return SendResult::kFailed;
  }
  return SendResult::kSent;
}

RunnerSession::SendResult RunnerSession::SendGracefulTermination(bool finish_tasks) {
  WorkerMessage message;
  message.mutable_graceful_termination()->set_finish_tasks(finish_tasks);
  return SendWhenCapable(kCapGracefulTermination, message);
}

RunnerSession::SendResult RunnerSession::SendNewCredentials(const std::string& client_id,
                                                            const std::string& access_token,
                                                            const std::string& certificate) {
  WorkerMessage message;
  auto* credentials = message.mutable_new_credentials();
  credentials->set_client_id(client_id);
  credentials->set_access_token(access_token);
  credentials->set_certificate(certificate);
  return SendWhenCapable(kCapNewCredentials, message);
}

bool RunnerSession::WaitCapable(absl::string_view capability, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(this, &RunnerSession::NegotiatedOrClosedLocked), timeout);
  return negotiated_ && !closed_ && usable_.Has(capability);
}

bool RunnerSession::negotiated() const {
  absl::MutexLock lock(&mu_);
  return negotiated_;
}

Capabilities RunnerSession::usable() const {
  absl::MutexLock lock(&mu_);
  return usable_;
}

void RunnerSession::HandleHello(const std::vector<std::string>& capabilities,
                                absl::string_view problem) {
  if (!problem.empty()) {
    common::LogWarning(kComponent, "worker sent malformed capabilities, treating them as none",
                       {{"problem", problem}});
  }
  Capabilities usable = offered_.Intersect(Capabilities(capabilities));

  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    first = !negotiated_;
    usable_ = usable;
    if (first) {
      negotiated_ = true;
      flushing_ = true;
    }
  }

  if (!first) {
    common::LogWarning(kComponent, "repeated hello from worker, capabilities replaced",
                       {{"usable", JoinNames(usable)}});
    return;
  }
  common::LogDebug(kComponent, "worker protocol negotiated", {{"usable", JoinNames(usable)}});
  if (handler_ != nullptr) handler_->OnNegotiated(usable);
  FlushPending();
}

void RunnerSession::FlushPending() {
  // Sends happen without mu_. Until the queue is seen empty, flushing_ makes other senders queue
  // behind it, so messages still go out in the order they were asked for.
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      if (pending_.empty() || closed_) {
        pending_.clear();
        flushing_ = false;
        return;
      }
      batch.swap(pending_);
    }

    for (const Pending& item : batch) {
      bool closed = false;
      bool capable = false;
      {
        absl::MutexLock lock(&mu_);
        closed = closed_;
        capable = usable_.Has(item.capability);
      }
      // Close() dropped the queue; what is left of this batch belongs to it.
      if (closed) break;
      if (!capable) {
        common::LogDebug(kComponent, "dropped queued message, worker lacks capability",
                         {{"type", MessageType(item.message)}, {"capability", item.capability}});
      } else if (!sink_->Send(item.message)) {
        common::LogWarning(kComponent, "could not send queued message to worker",
                           {{"type", MessageType(item.message)}});
      }
    }
  }
}

bool RunnerSession::NegotiatedOrClosedLocked() const { return negotiated_ || closed_; }

void RunnerSession::HandleLog(const WorkerMessage& message) {
  if (!message.log().has_body()) {
    common::LogWarning(kComponent, "received log message from worker lacking 'body' property");
    return;
  }
  // FormatLogRecord renders an object as a record and anything else as compact JSON text.
  Logger::Default().LogRelayed(LogLevel::kInfo, kComponent,
                               common::FormatLogRecord(ValueToJson(message.log().body())));
}

void RunnerSession::HandleErrorReport(const WorkerMessage& message) {
  if (handler_ == nullptr) {
    common::LogWarning(kComponent, "no handler for message", {{"type", MessageType(message)}});
    return;
  }
  const auto& proto = message.error_report();
  ErrorReport report;
  report.kind = proto.kind();
  report.title = proto.title();
  report.description = proto.description();
  report.extra = StructToJson(proto.extra());
  handler_->OnErrorReport(report);
}

}  // namespace runner::workerproto
