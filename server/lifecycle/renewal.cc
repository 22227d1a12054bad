#include "server/lifecycle/renewal.h"

#include <algorithm>
#include <string>

#include "server/common/logger.h"
#include "server/taskcluster/worker_manager.h"

namespace runner::lifecycle {
namespace {

constexpr char kComponent[] = "renewal";

}  // namespace

absl::Duration RenewalDelay(absl::Duration remaining) {
  absl::Duration delay = remaining - absl::Minutes(30);
  if (delay < absl::Minutes(5)) {
    delay = absl::Minutes(5);
    if (delay > remaining - absl::Seconds(30)) {
      delay = std::max(remaining - absl::Seconds(30), absl::ZeroDuration());
    }
  }
  return delay;
}

CredentialRenewal::CredentialRenewal(RenewalDelegate* delegate, RenewalOptions options)
    : delegate_(delegate), options_(options) {}

CredentialRenewal::~CredentialRenewal() { Stop(); }

void CredentialRenewal::Start(absl::Time expiry) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
  }
  thread_ = std::thread([this, expiry] { Loop(expiry); });
}

void CredentialRenewal::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

int CredentialRenewal::renewals() const {
  absl::MutexLock lock(&mu_);
  return renewals_;
}

bool CredentialRenewal::WaitUntilAsleep(int count, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto asleep = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return asleep_ && sleeps_ >= count; };
  return mu_.AwaitWithTimeout(absl::Condition(&asleep), timeout);
}

bool CredentialRenewal::SleepUntil(absl::Time target) {
  absl::MutexLock lock(&mu_);
  ++sleeps_;
  asleep_ = true;
  while (!stopping_) {
    // Re-read the wall clock every slice: a monotonic sleep would not count a suspension.
    absl::Duration left = target - options_.clock->Now();
    if (left <= absl::ZeroDuration()) {
      asleep_ = false;
      return true;
    }
    wake_.WaitWithTimeout(&mu_, std::min(left, options_.slice));
  }
  asleep_ = false;
  return false;
}

void CredentialRenewal::Loop(absl::Time expiry) {
  while (true) {
    absl::Duration delay = RenewalDelay(expiry - options_.clock->Now());
    absl::Time target = options_.clock->Now() + delay;
    common::LogInfo(kComponent, "credential renewal scheduled",
                    {{"at", taskcluster::FormatTaskclusterTime(target)},
                     {"expires", taskcluster::FormatTaskclusterTime(expiry)}});
    if (!SleepUntil(target)) return;

    switch (delegate_->ChoosePath()) {
      case RenewalDelegate::Path::kStopped:
        return;
      case RenewalDelegate::Path::kNone:
        common::LogError(kComponent,
                         "credentials are about to expire and the worker takes neither "
                         "new-credentials nor graceful-termination; letting them lapse",
                         {{"expires", taskcluster::FormatTaskclusterTime(expiry)}});
        return;
      case RenewalDelegate::Path::kTerminate:
        delegate_->Terminate("credentials are about to expire and the worker cannot take new ones");
        return;
      case RenewalDelegate::Path::kRenew:
        break;
    }

    absl::Duration backoff = options_.retry_initial;
    while (true) {
      absl::StatusOr<absl::Time> renewed = delegate_->Renew();
      if (renewed.ok()) {
        expiry = *renewed;
        absl::MutexLock lock(&mu_);
        ++renewals_;
        break;
      }
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
      }
      absl::Time next = options_.clock->Now() + backoff;
      bool retry = next < expiry - options_.give_up_before_expiry;
      common::LogError(kComponent, "credential renewal failed",
                       {{"code", absl::StatusCodeToString(renewed.status().code())},
                        {"error", std::string(renewed.status().message())},
                        {"retry_in", retry ? absl::FormatDuration(backoff) : "no retry"}});
      if (!retry) {
        delegate_->Terminate("credentials could not be renewed before they expire");
        return;
      }
      if (!SleepUntil(next)) return;
      backoff = std::min(backoff * 2, options_.retry_max);
    }
  }
}

}  // namespace runner::lifecycle
