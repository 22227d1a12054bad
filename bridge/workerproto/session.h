#ifndef RUNNER_BRIDGE_WORKERPROTO_SESSION_H_
#define RUNNER_BRIDGE_WORKERPROTO_SESSION_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

#include "bridge/workerproto/capabilities.h"
#include "bridge/workerproto/codec.h"

namespace runner::workerproto {

// Carries messages to the worker: the text transport (the worker's stdin), the gRPC worker
// channel, or a fake in tests. Implementations are thread-safe and serialise writes.
class MessageSink {
 public:
  virtual ~MessageSink() = default;
  // Sends one message; false when it could not be delivered (the worker is gone). Never blocks
  // for long on a worker that does not read: it may fail instead.
  virtual bool Send(const WorkerMessage& message) = 0;
};

// A valid `error-report` from the worker.
struct ErrorReport {
  std::string kind;
  std::string title;
  std::string description;
  nlohmann::json extra = nlohmann::json::object();
};

// The runner's reactions to the worker's requests. Called on the thread that feeds the session
// (a transport's reader), one message at a time in arrival order: implementations must hand any
// network work to another thread and return quickly.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  virtual void OnErrorReport(const ErrorReport& report) = 0;
  virtual void OnShutdown() = 0;
  // The worker said hello; `usable` are the capabilities both sides offered.
  virtual void OnNegotiated(const Capabilities& usable) = 0;
};

// The runner's side of one worker-protocol conversation, independent of the transport.
// Sends `welcome`, reads `hello`, forwards `log` records and plain text to the process logger
// (component "worker"), passes error reports and shutdown requests to the handler, and sends
// capability-gated messages only once both sides have named the capability.
// Thread-safe: one thread feeds incoming messages while others send.
class RunnerSession {
 public:
  // `sink` and `handler` are not owned and must outlive the session. `handler` may be null.
  RunnerSession(Capabilities offered, MessageSink* sink, SessionHandler* handler);

  // Sends `welcome` with the offered capabilities. Call once, before feeding messages.
  void Start();

  // Incoming traffic, from the transport's reader thread.
  void HandleLine(absl::string_view line);  // decodes, then one of the three below
  void HandleMessage(const WorkerMessage& message);
  void HandleText(absl::string_view text);
  void HandleOversizeLine(absl::string_view start, size_t total_size);

  // The worker's output ended or the worker is gone: queued messages are dropped and waiters in
  // WaitCapable() get false. Idempotent.
  void Close();

  // Result of a capability-gated send.
  enum class SendResult { kSent, kQueued, kNotCapable, kFailed, kClosed };

  // Sends `message` if both sides have `capability`. Before `hello` the message is queued and
  // sent, in order, as soon as the worker's hello shows the capability (dropped otherwise).
  SendResult SendWhenCapable(absl::string_view capability, const WorkerMessage& message)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Shorthands for the two runner -> worker messages.
  SendResult SendGracefulTermination(bool finish_tasks) ABSL_LOCKS_EXCLUDED(mu_);
  SendResult SendNewCredentials(const std::string& client_id, const std::string& access_token,
                                const std::string& certificate) ABSL_LOCKS_EXCLUDED(mu_);

  // Waits up to `timeout` for hello (or Close); true when both sides have `capability`.
  bool WaitCapable(absl::string_view capability, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_);

  bool negotiated() const ABSL_LOCKS_EXCLUDED(mu_);
  // Capabilities both sides offered; empty before hello.
  Capabilities usable() const ABSL_LOCKS_EXCLUDED(mu_);
  const Capabilities& offered() const { return offered_; }

 private:
  struct Pending {
    std::string capability;
    WorkerMessage message;
  };

  void HandleHello(const std::vector<std::string>& capabilities, absl::string_view problem)
      ABSL_LOCKS_EXCLUDED(mu_);
  void HandleLog(const WorkerMessage& message);
  void HandleErrorReport(const WorkerMessage& message);
  // Sends the messages queued before hello, in order, including any queued while it runs.
  void FlushPending() ABSL_LOCKS_EXCLUDED(mu_);
  bool NegotiatedOrClosedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Capabilities offered_;
  MessageSink* const sink_;        // not owned
  SessionHandler* const handler_;  // not owned, may be null

  mutable absl::Mutex mu_;
  bool negotiated_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  Capabilities usable_ ABSL_GUARDED_BY(mu_);
  // Set from the first hello until the queue is empty: sends wait in the queue meanwhile so they
  // cannot overtake the queued messages that FlushPending() sends without holding mu_.
  bool flushing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace runner::workerproto

#endif  // RUNNER_BRIDGE_WORKERPROTO_SESSION_H_
