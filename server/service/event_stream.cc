#include "server/service/event_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

#include "server/service/proto_convert.h"

namespace runner::service {

EventStream::EventStream(lifecycle::RunStatus* status, bool follow,
                         std::set<lifecycle::EventKind> kinds, size_t max_queued)
    : status_(status), follow_(follow), kinds_(std::move(kinds)), max_queued_(max_queued) {}

grpc::ServerWriteReactor<workerrunner::v1::Event>* EventStream::Start(
    lifecycle::RunStatus* status, const workerrunner::v1::WatchEventsRequest& request,
    size_t max_queued, grpc::Status denied) {
  std::set<lifecycle::EventKind> kinds;
  bool bad_kind = false;
  for (int kind : request.kinds()) {
    auto converted = KindFromProto(static_cast<workerrunner::v1::EventKind>(kind));
    if (converted.has_value()) {
      kinds.insert(*converted);
    } else {
      bad_kind = true;
    }
  }
  auto stream =
      std::make_shared<EventStream>(status, request.follow(), std::move(kinds), max_queued);
  stream->self_ = stream;
  if (!denied.ok()) {
    stream->FinishEarly(std::move(denied));
    return stream.get();
  }
  if (bad_kind) {
    stream->FinishEarly(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                     "kinds: unknown event kind (or CURRENT_STATE, always sent)"));
    return stream.get();
  }

  std::optional<uint64_t> since;
  if (request.has_since()) since = request.since();
  auto subscribed = status->Subscribe(stream, since, request.follow());
  if (!subscribed.ok()) {
    stream->FinishEarly(grpc::Status(static_cast<grpc::StatusCode>(subscribed.status().code()),
                                     std::string(subscribed.status().message())));
    return stream.get();
  }
  workerrunner::v1::Event first;
  first.set_sequence(subscribed->second);
  first.set_kind(workerrunner::v1::EVENT_KIND_CURRENT_STATE);
  SnapshotToProto(subscribed->first, first.mutable_current_state());
  *first.mutable_time() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
      absl::ToUnixNanos(subscribed->first.now));
  {
    absl::MutexLock lock(&stream->mu_);
    stream->first_ = std::move(first);
  }
  stream->Wake();
  return stream.get();
}

void EventStream::FinishEarly(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    finished_ = true;
  }
  Finish(std::move(status));
}

bool EventStream::Push(std::shared_ptr<const lifecycle::Event> event) {
  absl::MutexLock lock(&mu_);
  if (finished_ || end_.has_value()) return false;
  // The final event always goes through, so followers learn that the runner stops.
  if (!kinds_.empty() && event->kind != lifecycle::EventKind::kRunnerStopping &&
      kinds_.count(event->kind) == 0) {
    return true;
  }
  if (queue_.size() >= max_queued_) {
    // Drop everything not yet written: the subscriber resumes from the last one it got.
    uint64_t dropped = queue_.size() + 1;
    queue_.clear();
    end_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("subscriber too slow: ", dropped,
                                     " events dropped; resume with since=", last_written_));
    return false;
  }
  queue_.push_back(std::move(event));
  return true;
}

void EventStream::Closed() {
  absl::MutexLock lock(&mu_);
  log_closed_ = true;
}

EventStream::Step EventStream::NextStepLocked(grpc::Status* finish) {
  if (finished_) return Step::kNothing;
  if (end_.has_value()) {
    // Even with a write stuck in flight: the status goes out as soon as the client reads.
    *finish = *end_;
    finished_ = true;
    return Step::kFinish;
  }
  if (write_in_flight_) return Step::kNothing;
  if (first_.has_value()) {
    message_ = std::move(*first_);
    first_.reset();
    write_in_flight_ = true;
    return Step::kWrite;
  }
  if (!queue_.empty()) {
    message_.Clear();
    EventToProto(*queue_.front(), &message_);
    last_written_ = queue_.front()->sequence;
    queue_.pop_front();
    write_in_flight_ = true;
    return Step::kWrite;
  }
  if (!follow_ || log_closed_) {
    *finish = grpc::Status::OK;
    finished_ = true;
    return Step::kFinish;
  }
  return Step::kNothing;
}

void EventStream::Wake() {
  // gRPC may run OnDone inline inside Finish, and OnDone lets go of self_: keep this alive until
  // the loop below is done with it.
  std::shared_ptr<EventStream> keep = shared_from_this();
  {
    absl::MutexLock lock(&mu_);
    if (driving_) {
      look_again_ = true;
      return;
    }
    driving_ = true;
  }
  // gRPC may run reactions inline inside StartWrite/Finish; those come back here and only ask
  // the driving thread to look again.
  while (true) {
    grpc::Status finish;
    Step step;
    {
      absl::MutexLock lock(&mu_);
      look_again_ = false;
      step = NextStepLocked(&finish);
      if (step == Step::kNothing) {
        driving_ = false;
        return;
      }
    }
    if (step == Step::kWrite) {
      StartWrite(&message_);
    } else {
      Finish(std::move(finish));
    }
    // Unless a Wake came meanwhile, a write's completion (or nothing, after Finish) is next.
    absl::MutexLock lock(&mu_);
    if (!look_again_) {
      driving_ = false;
      return;
    }
  }
}

void EventStream::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok && !end_.has_value()) {
      end_ = grpc::Status(grpc::StatusCode::CANCELLED, "the subscriber went away");
    }
  }
  Wake();
}

void EventStream::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    if (!end_.has_value()) end_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  }
  Wake();
}

void EventStream::OnDone() {
  status_->events()->Unsubscribe(this);
  // The log may still hold a reference for a moment; it only reaches Push/Wake, which see
  // finished_ and do nothing.
  std::shared_ptr<EventStream> keep = std::move(self_);
}

}  // namespace runner::service
