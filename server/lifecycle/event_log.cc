#include "server/lifecycle/event_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace runner::lifecycle {

const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kRunnerState:
      return "runner-state";
    case EventKind::kWorkerState:
      return "worker-state";
    case EventKind::kInterruption:
      return "interruption";
    case EventKind::kAdvisory:
      return "advisory";
    case EventKind::kCredentials:
      return "credentials";
    case EventKind::kErrorReport:
      return "error-report";
    case EventKind::kShutdownRequest:
      return "shutdown-request";
    case EventKind::kDrain:
      return "drain";
    case EventKind::kRunnerStopping:
      return "runner-stopping";
  }
  return "unknown";
}

EventLog::EventLog(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

EventLog::Subscribers EventLog::AppendLocked(Event event) {
  event.sequence = ++last_sequence_;
  event.time = absl::Now();
  auto shared = std::make_shared<const Event>(std::move(event));
  ring_.push_back(shared);
  if (ring_.size() > capacity_) ring_.pop_front();

  // A follower that cannot take the event is dropped here; it ends its stream itself on Wake.
  Subscribers woken = followers_;
  followers_.erase(std::remove_if(followers_.begin(), followers_.end(),
                                  [&](const std::shared_ptr<EventSubscriber>& follower) {
                                    return !follower->Push(shared);
                                  }),
                   followers_.end());
  return woken;
}

EventLog::Subscribers EventLog::Append(Event event) {
  absl::MutexLock lock(&mu_);
  return AppendLocked(std::move(event));
}

void EventLog::Publish(Event event) { WakeAll(Append(std::move(event))); }

void EventLog::WakeAll(const Subscribers& subscribers) {
  for (const auto& subscriber : subscribers) subscriber->Wake();
}

absl::StatusOr<uint64_t> EventLog::Subscribe(const std::shared_ptr<EventSubscriber>& subscriber,
                                             std::optional<uint64_t> since, bool follow) {
  absl::MutexLock lock(&mu_);
  uint64_t oldest = ring_.empty() ? last_sequence_ + 1 : ring_.front()->sequence;
  if (since.has_value() && *since > last_sequence_) {
    return absl::OutOfRangeError(absl::StrCat(
        "sequence ", *since, " has not happened yet; the last event is ", last_sequence_));
  }
  if (since.has_value() && *since + 1 < oldest) {
    return absl::OutOfRangeError(absl::StrCat("events after sequence ", *since,
                                              " are no longer kept; the oldest kept is ", oldest,
                                              " (resubscribe without since to start from there)"));
  }
  if (follow && closed_) return absl::FailedPreconditionError("the runner is stopping");

  for (const auto& event : ring_) {
    if (since.has_value() && event->sequence <= *since) continue;
    if (!subscriber->Push(event)) return last_sequence_;
  }
  if (follow) followers_.push_back(subscriber);
  return last_sequence_;
}

void EventLog::Unsubscribe(const EventSubscriber* subscriber) {
  absl::MutexLock lock(&mu_);
  followers_.erase(std::remove_if(followers_.begin(), followers_.end(),
                                  [&](const std::shared_ptr<EventSubscriber>& follower) {
                                    return follower.get() == subscriber;
                                  }),
                   followers_.end());
}

void EventLog::Close() {
  Subscribers woken;
  Subscribers followers;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    Event stopping;
    stopping.kind = EventKind::kRunnerStopping;
    woken = AppendLocked(std::move(stopping));
    closed_ = true;
    // Those that took the final event end cleanly; any that overflowed on it end with their
    // overflow status when woken.
    followers.swap(followers_);
  }
  for (const auto& follower : followers) follower->Closed();
  WakeAll(woken);
}

uint64_t EventLog::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

size_t EventLog::follower_count() const {
  absl::MutexLock lock(&mu_);
  return followers_.size();
}

}  // namespace runner::lifecycle
