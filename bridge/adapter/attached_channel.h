#ifndef RUNNER_BRIDGE_ADAPTER_ATTACHED_CHANNEL_H_
#define RUNNER_BRIDGE_ADAPTER_ATTACHED_CHANNEL_H_

#include "bridge/workerproto/session.h"

namespace runner::adapter {

// The runner's side of a worker that attached over a stream (the gRPC worker channel) instead of
// being started as a child: messages reach it through MessageSink::Send(), and its process can
// only be signalled through the far side. Free of gRPC so the lifecycle can use it.
// Implementations are thread-safe.
class AttachedChannel : public workerproto::MessageSink {
 public:
  // Asks the far side to deliver `signal` (SIGTERM or SIGKILL) to the worker process. False when
  // the request could not be sent (the stream is gone) or the signal is not one of those two.
  virtual bool SignalWorker(int signal) = 0;

  // Ends the stream from our side, for a far side that does not end it after SIGKILL. Reads and
  // writes fail from then on. Idempotent.
  virtual void Abandon() = 0;
};

}  // namespace runner::adapter

#endif  // RUNNER_BRIDGE_ADAPTER_ATTACHED_CHANNEL_H_
