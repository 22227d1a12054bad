#ifndef RUNNER_TESTS_UNIT_TASKCLUSTER_TEST_SUPPORT_H_
#define RUNNER_TESTS_UNIT_TASKCLUSTER_TEST_SUPPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "server/common/clock.h"
#include "server/common/logger.h"
#include "server/taskcluster/backoff.h"

namespace runner::taskcluster {

// A clock that moves only when told to. Thread-safe.
class ManualClock : public common::Clock {
 public:
  explicit ManualClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// Always returns the same value.
class FixedRandom : public RandomSource {
 public:
  explicit FixedRandom(double value) : value_(value) {}
  double Uniform() override { return value_; }

 private:
  const double value_;
};

// Instead of sleeping, advances a manual clock and records the requested delays. Thread-safe.
class ClockSleeper : public Sleeper {
 public:
  explicit ClockSleeper(ManualClock* clock) : clock_(clock) {}
  void Sleep(absl::Duration d) override ABSL_LOCKS_EXCLUDED(mu_) {
    clock_->Advance(d);
    absl::MutexLock lock(&mu_);
    delays_.push_back(d);
  }
  std::vector<absl::Duration> delays() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return delays_;
  }

 private:
  ManualClock* clock_;  // not owned
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> delays_ ABSL_GUARDED_BY(mu_);
};

// For its lifetime, sends every line of the default logger, DEBUG and up, to memory; afterwards
// the previous sink and the INFO level are back. Not thread-safe; the logger it feeds is.
class LogCapture {
 public:
  LogCapture() {
    auto sink = std::make_unique<common::MemoryLogSink>();
    sink_ = sink.get();
    previous_sink_ = common::Logger::Default().SetSink(std::move(sink));
    common::Logger::Default().SetMinLevel(common::LogLevel::kDebug);
  }
  ~LogCapture() {
    common::Logger::Default().SetMinLevel(common::LogLevel::kInfo);
    common::Logger::Default().SetSink(std::move(previous_sink_));
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> lines() const { return sink_->lines(); }

  // The lines that contain `text`, in order.
  std::vector<std::string> LinesContaining(absl::string_view text) const {
    std::vector<std::string> out;
    for (const std::string& line : sink_->lines()) {
      if (absl::StrContains(line, text)) out.push_back(line);
    }
    return out;
  }

 private:
  common::MemoryLogSink* sink_;  // owned by the logger while captured
  std::unique_ptr<common::LogSink> previous_sink_;
};

}  // namespace runner::taskcluster

#endif  // RUNNER_TESTS_UNIT_TASKCLUSTER_TEST_SUPPORT_H_
