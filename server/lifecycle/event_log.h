#ifndef RUNNER_SERVER_LIFECYCLE_EVENT_LOG_H_
#define RUNNER_SERVER_LIFECYCLE_EVENT_LOG_H_

#include <stdint.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/providers/provider.h"

namespace runner::lifecycle {

enum class RunPhase { kStarting, kStartingWorker, kRunning, kStopping };

enum class EventKind {
  kRunnerState,
  kWorkerState,
  kInterruption,
  kAdvisory,
  kCredentials,
  kErrorReport,
  kShutdownRequest,
  kDrain,
  kRunnerStopping,
};

enum class WorkerChange { kStarted, kNegotiated, kExited };

// What Runner::Drain did.
enum class DrainOutcome { kSent, kQueued, kNotCapable, kNoWorker, kAlreadySent };

// One thing that happened in the run. Only the members of its kind are meaningful. Holds no
// credentials.
struct Event {
  uint64_t sequence = 0;
  absl::Time time;
  EventKind kind = EventKind::kRunnerState;

  RunPhase phase = RunPhase::kStarting;                 // kRunnerState
  WorkerChange worker_change = WorkerChange::kStarted;  // kWorkerState
  int pid = 0;
  std::vector<std::string> capabilities;
  int exit_status = 0;
  providers::Interruption interruption;  // kInterruption, kAdvisory
  absl::Time credentials_expire;         // kCredentials
  std::string error_kind;                // kErrorReport
  std::string error_title;
  std::string error_description;
  bool finish_tasks = false;  // kDrain
  DrainOutcome drain_outcome = DrainOutcome::kSent;
  uint32_t caller_uid = 0;
};

// Receives the events of a subscription. Push is called with the log's lock held, in sequence
// order, and must only queue (never block or call out); Wake is called afterwards without any of
// the log's locks, to start delivering what was queued.
class EventSubscriber {
 public:
  virtual ~EventSubscriber() = default;
  // Returns false when the subscriber cannot take more (it is then dropped from the log).
  virtual bool Push(std::shared_ptr<const Event> event) = 0;
  virtual void Wake() = 0;
  // The log is closed: no more events will come; a Wake follows. Called without the log's lock.
  virtual void Closed() = 0;
};

// The run's recent events, in a bounded ring, and the subscribers that follow new ones.
// Thread-safe. Lock order: callers' locks, then EventLog::mu_, then a subscriber's own lock.
class EventLog {
 public:
  using Subscribers = std::vector<std::shared_ptr<EventSubscriber>>;

  explicit EventLog(size_t capacity = 1024);

  // Numbers and stamps `event`, keeps it (dropping the oldest when full) and pushes it to the
  // followers. Returns the subscribers to Wake() once the caller holds no lock.
  Subscribers Append(Event event) ABSL_LOCKS_EXCLUDED(mu_);
  // Append, then wake.
  void Publish(Event event) ABSL_LOCKS_EXCLUDED(mu_);
  static void WakeAll(const Subscribers& subscribers);

  // Pushes the kept events after `since` (all of them when unset) to `subscriber` and, with
  // `follow`, registers it for new ones; all atomically, so nothing is missed or repeated.
  // Returns the sequence number of the last event appended so far. kOutOfRange when events after
  // `since` have already left the ring; kFailedPrecondition once the log is closed and `follow`.
  // The caller wakes the subscriber afterwards.
  absl::StatusOr<uint64_t> Subscribe(const std::shared_ptr<EventSubscriber>& subscriber,
                                     std::optional<uint64_t> since, bool follow)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(const EventSubscriber* subscriber) ABSL_LOCKS_EXCLUDED(mu_);

  // Appends a kRunnerStopping event, tells every follower Closed() and forgets them. Later
  // Appends are kept but reach no one. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t last_sequence() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t follower_count() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Subscribers AppendLocked(Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<const Event>> ring_ ABSL_GUARDED_BY(mu_);
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  Subscribers followers_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

const char* EventKindName(EventKind kind);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_EVENT_LOG_H_
