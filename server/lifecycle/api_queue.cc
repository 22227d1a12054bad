#include "server/lifecycle/api_queue.h"

#include <utility>

#include "server/common/logger.h"

namespace runner::lifecycle {

ApiQueue::ApiQueue() : thread_([this] { Loop(); }) {}

ApiQueue::~ApiQueue() { Stop(absl::ZeroDuration()); }

bool ApiQueue::Post(std::string what, std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || pending_.size() >= kMaxPending) {
    common::LogWarning("api-queue", "dropped request", {{"what", what}});
    return false;
  }
  pending_.push_back(Item{std::move(what), std::move(work)});
  return true;
}

void ApiQueue::Loop() {
  while (true) {
    Item item;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !pending_.empty() || stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (pending_.empty()) return;  // stopping and nothing left
      item = std::move(pending_.front());
      pending_.pop_front();
      busy_ = true;
    }
    item.work();
    absl::MutexLock lock(&mu_);
    busy_ = false;
  }
}

bool ApiQueue::Drain(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto drained = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_.empty() && !busy_; };
  return mu_.AwaitWithTimeout(absl::Condition(&drained), timeout);
}

void ApiQueue::Stop(absl::Duration timeout) {
  Drain(timeout);
  {
    absl::MutexLock lock(&mu_);
    if (!thread_.joinable()) return;
    for (const Item& item : pending_) {
      common::LogWarning("api-queue", "dropped request at exit", {{"what", item.what}});
    }
    pending_.clear();
    stopping_ = true;
  }
  thread_.join();
}

}  // namespace runner::lifecycle
