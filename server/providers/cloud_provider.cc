#include "server/providers/cloud_provider.h"

#include <utility>

#include "absl/strings/strip.h"

#include "server/common/logger.h"

namespace runner::providers {

ThrottledFailureLog::ThrottledFailureLog(absl::string_view component, const common::Clock* clock,
                                         absl::Duration interval)
    : component_(component), clock_(clock), interval_(interval) {}

void ThrottledFailureLog::Failure(absl::string_view event, const absl::Status& status) {
  ++unlogged_;
  absl::Time now = clock_->Now();
  if (last_logged_.has_value() && now - *last_logged_ < interval_) return;
  common::LogWarning(component_, event,
                     {{"code", absl::StatusCodeToString(status.code())},
                      {"error", std::string(status.message())},
                      {"failures", unlogged_}});
  last_logged_ = now;
  unlogged_ = 0;
}

CloudProvider::~CloudProvider() {
  // A subclass's Watch() must not outlive the subclass; this only catches a missed call.
  StopWatching();
}

absl::Status CloudProvider::StartWatching(InterruptionSink* sink) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("interruption watch already started");
  started_ = true;
  watcher_ = std::thread([this, sink] { Watch(sink); });
  return absl::OkStatus();
}

void CloudProvider::StopWatching() {
  stop_.Cancel();
  std::thread watcher;
  {
    absl::MutexLock lock(&mu_);
    watcher = std::move(watcher_);
  }
  if (watcher.joinable()) watcher.join();
}

std::string NormalizeRootUrl(absl::string_view root_url) {
  while (absl::ConsumeSuffix(&root_url, "/")) {
  }
  return std::string(root_url);
}

}  // namespace runner::providers
