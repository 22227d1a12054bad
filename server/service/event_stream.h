#ifndef RUNNER_SERVER_SERVICE_EVENT_STREAM_H_
#define RUNNER_SERVER_SERVICE_EVENT_STREAM_H_

#include <stdint.h>

#include <deque>
#include <memory>
#include <optional>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"

#include "proto/runner.pb.h"
#include "server/lifecycle/event_log.h"
#include "server/lifecycle/run_status.h"

namespace runner::service {

// One WatchEvents call: a callback-API writer fed by the event log. Events wait in a bounded
// queue; one write is in flight at a time. When the queue overflows the stream ends with
// RESOURCE_EXHAUSTED at once (the log never waits for a subscriber). Thread-safe: the log pushes
// from the publishing thread, gRPC calls back on its own threads; gRPC calls are never made
// with mu_ held.
class EventStream final : public grpc::ServerWriteReactor<workerrunner::v1::Event>,
                          public lifecycle::EventSubscriber,
                          public std::enable_shared_from_this<EventStream> {
 public:
  // Starts the call: subscribes to `status`'s events as `request` asks and begins writing.
  // `denied` (not OK) ends the call at once with that status. Returns the reactor to hand to
  // gRPC; it lives until OnDone.
  static grpc::ServerWriteReactor<workerrunner::v1::Event>* Start(
      lifecycle::RunStatus* status, const workerrunner::v1::WatchEventsRequest& request,
      size_t max_queued, grpc::Status denied);

  // lifecycle::EventSubscriber
  bool Push(std::shared_ptr<const lifecycle::Event> event) override ABSL_LOCKS_EXCLUDED(mu_);
  void Wake() override ABSL_LOCKS_EXCLUDED(mu_);
  void Closed() override ABSL_LOCKS_EXCLUDED(mu_);

  // grpc::ServerWriteReactor
  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnCancel() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone() override;

  EventStream(lifecycle::RunStatus* status, bool follow, std::set<lifecycle::EventKind> kinds,
              size_t max_queued);

 private:
  // What Wake decided to do next, chosen under mu_ and done without it.
  enum class Step { kNothing, kWrite, kFinish };
  Step NextStepLocked(grpc::Status* finish) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishEarly(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  lifecycle::RunStatus* const status_;  // not owned
  const bool follow_;
  const std::set<lifecycle::EventKind> kinds_;  // empty: every kind
  const size_t max_queued_;
  // Keeps this alive from Start until gRPC is done with it (OnDone).
  std::shared_ptr<EventStream> self_;

  absl::Mutex mu_;
  std::optional<workerrunner::v1::Event> first_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<const lifecycle::Event>> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);  // set: finish with it now
  bool log_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // Only one thread drives the writes at a time; a Wake meanwhile asks it to look again.
  bool driving_ ABSL_GUARDED_BY(mu_) = false;
  bool look_again_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t last_written_ ABSL_GUARDED_BY(mu_) = 0;
  workerrunner::v1::Event message_;  // the write in flight; touched only by the driver
};

}  // namespace runner::service

#endif  // RUNNER_SERVER_SERVICE_EVENT_STREAM_H_
