#ifndef RUNNER_BRIDGE_ADAPTER_GRPC_TRANSPORT_H_
#define RUNNER_BRIDGE_ADAPTER_GRPC_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/sync_stream.h"

#include "bridge/adapter/attached_channel.h"
#include "bridge/workerproto/session.h"
#include "proto/worker_channel.grpc.pb.h"

namespace runner::adapter {

using ChannelFrame = ::workerrunner::v1::ChannelFrame;
using ChannelServerStream = grpc::ServerReaderWriterInterface<ChannelFrame, ChannelFrame>;

// The worker protocol over one gRPC worker-channel stream, runner side: the counterpart of
// TextTransport for a worker that attached instead of being started. Send() writes a `message`
// frame, SignalWorker() a `signal` frame; ReadAll() feeds what the attacher sends to a session
// until the stream ends. Thread-safe: one thread runs ReadAll() while others send.
class GrpcTransport : public AttachedChannel {
 public:
  // `stream` and `context` are not owned and must outlive the transport; `context` may be null
  // (then Abandon() only stops further writes).
  GrpcTransport(ChannelServerStream* stream, grpc::ServerContext* context);

  // Both block while the attacher's receive window is full (it stops reading); Abandon() ends
  // such a wait.
  bool Send(const workerproto::WorkerMessage& message) override ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  bool SignalWorker(int signal) override ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  void Abandon() override ABSL_LOCKS_EXCLUDED(mu_);

  // How the attacher said the worker ended.
  struct Ending {
    // The worker's exit status from a `exited` frame; nullopt when the stream ended without one
    // (the attacher vanished).
    std::optional<int> exit_status;
    // Why the program could not be started, when it could not.
    std::string start_error;
  };
  using StartedFn = std::function<void(int64_t pid, const std::string& program)>;

  // Reads frames until the stream ends, in order: protocol messages and output lines go to
  // `session` exactly as a text worker's would, `started` to `on_started` (may be empty).
  // Frames after `exited` are ignored. Blocks; call once, from the gRPC handler's thread.
  Ending ReadAll(workerproto::RunnerSession* session, const StartedFn& on_started);

 private:
  bool Write(const ChannelFrame& frame) ABSL_LOCKS_EXCLUDED(mu_, write_mu_);
  bool abandoned() const ABSL_LOCKS_EXCLUDED(mu_);

  ChannelServerStream* const stream_;   // not owned
  grpc::ServerContext* const context_;  // not owned, may be null

  // The write lock: gRPC allows one write at a time. Held across the write, like
  // TextTransport's, and never taken with mu_ held.
  absl::Mutex write_mu_;
  mutable absl::Mutex mu_;
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace runner::adapter

#endif  // RUNNER_BRIDGE_ADAPTER_GRPC_TRANSPORT_H_
