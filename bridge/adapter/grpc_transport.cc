#include "bridge/adapter/grpc_transport.h"

#include <signal.h>

#include "server/common/logger.h"

namespace runner::adapter {
namespace {

constexpr char kComponent[] = "protocol";

}  // namespace

GrpcTransport::GrpcTransport(ChannelServerStream* stream, grpc::ServerContext* context)
    : stream_(stream), context_(context) {}

bool GrpcTransport::Send(const workerproto::WorkerMessage& message) {
  ChannelFrame frame;
  *frame.mutable_message() = message;
  return Write(frame);
}

bool GrpcTransport::SignalWorker(int signal) {
  ChannelFrame frame;
  switch (signal) {
    case SIGTERM:
      frame.mutable_signal()->set_signal(workerrunner::v1::SignalWorker::SIGNAL_TERM);
      break;
    case SIGKILL:
      frame.mutable_signal()->set_signal(workerrunner::v1::SignalWorker::SIGNAL_KILL);
      break;
    default:
      return false;
  }
  return Write(frame);
}

void GrpcTransport::Abandon() {
  {
    absl::MutexLock lock(&mu_);
    if (abandoned_) return;
    abandoned_ = true;
  }
  // Wakes a Read() or Write() blocked on the stream; gRPC allows this from any thread.
  if (context_ != nullptr) context_->TryCancel();
}

bool GrpcTransport::abandoned() const {
  absl::MutexLock lock(&mu_);
  return abandoned_;
}

bool GrpcTransport::Write(const ChannelFrame& frame) {
  if (abandoned()) return false;
  absl::MutexLock lock(&write_mu_);
  if (stream_->Write(frame)) return true;
  common::LogDebug(kComponent, "could not send frame to attached worker");
  return false;
}

GrpcTransport::Ending GrpcTransport::ReadAll(workerproto::RunnerSession* session,
                                             const StartedFn& on_started) {
  Ending ending;
  ChannelFrame frame;
  bool exited = false;
  while (!abandoned() && stream_->Read(&frame)) {
    if (exited) continue;  // the attacher has nothing left to say about a worker that is gone
    switch (frame.frame_case()) {
      case ChannelFrame::kMessage:
        session->HandleMessage(frame.message());
        break;
      case ChannelFrame::kLine:
        if (frame.line().oversize_length() > 0) {
          session->HandleOversizeLine(frame.line().text(), frame.line().oversize_length());
        } else {
          // Decoded here as a started worker's line would be: a protocol line sent as text still
          // counts, a malformed one is logged and dropped.
          session->HandleLine(frame.line().text());
        }
        break;
      case ChannelFrame::kStarted:
        if (on_started) on_started(frame.started().pid(), frame.started().program());
        break;
      case ChannelFrame::kExited:
        exited = true;
        ending.exit_status = frame.exited().status();
        ending.start_error = frame.exited().start_error();
        break;
      case ChannelFrame::kSignal:
      case ChannelFrame::FRAME_NOT_SET:
        common::LogWarning(kComponent, "ignored unexpected frame from attached worker",
                           {{"frame", static_cast<int>(frame.frame_case())}});
        break;
    }
  }
  return ending;
}

}  // namespace runner::adapter
