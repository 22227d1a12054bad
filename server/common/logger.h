#ifndef RUNNER_SERVER_COMMON_LOGGER_H_
#define RUNNER_SERVER_COMMON_LOGGER_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace runner::common {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// One `key=value` pair of a log line. Values are rendered as given; quoting happens on output.
struct LogField {
  LogField(absl::string_view k, absl::string_view v) : key(k), value(v) {}
  LogField(absl::string_view k, const char* v) : key(k), value(v) {}
  LogField(absl::string_view k, const std::string& v) : key(k), value(v) {}
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  LogField(absl::string_view k, T v) : key(k), value(ToText(v)) {}

  std::string key;
  std::string value;

 private:
  template <typename T>
  static std::string ToText(T v) {
    if constexpr (std::is_same_v<T, bool>) {
      return v ? "true" : "false";
    } else {
      return std::to_string(v);
    }
  }
};

// Receives finished lines (no trailing newline). Implementations must be thread-compatible; the
// logger serialises calls.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void WriteLine(absl::string_view line) = 0;
};

// A sink writing each line to a file descriptor with one write(2), so lines never interleave.
class FdLogSink : public LogSink {
 public:
  explicit FdLogSink(int fd) : fd_(fd) {}
  void WriteLine(absl::string_view line) override;

 private:
  int fd_;  // not owned
};

// A sink that keeps lines in memory, for tests.
class MemoryLogSink : public LogSink {
 public:
  void WriteLine(absl::string_view line) override;
  std::vector<std::string> lines() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// The process-wide log destination: one line per event,
//   `YYYY/MM/DD HH:MM:SS LEVEL component: event key=value ...`
// Every line is scrubbed of the registered secrets before it is written. Thread-safe.
class Logger {
 public:
  // The process logger; writes to stderr until another sink is set.
  static Logger& Default();

  Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Replaces the sink and returns the previous one.
  std::unique_ptr<LogSink> SetSink(std::unique_ptr<LogSink> sink) ABSL_LOCKS_EXCLUDED(mu_);
  void SetMinLevel(LogLevel level) ABSL_LOCKS_EXCLUDED(mu_);
  // Leave out the date and time (for tests that compare whole lines).
  void SetTimestamps(bool enabled) ABSL_LOCKS_EXCLUDED(mu_);

  // From now on, every occurrence of `secret` in a line is written as `[redacted]`. Strings
  // shorter than kMinSecretLength are ignored: they would blank out ordinary words.
  void AddSecret(absl::string_view secret) ABSL_LOCKS_EXCLUDED(mu_);
  static constexpr size_t kMinSecretLength = 6;

  bool Enabled(LogLevel level) const ABSL_LOCKS_EXCLUDED(mu_);

  // Logs an event of the runner itself. `event` is a short stable phrase.
  void Log(LogLevel level, absl::string_view component, absl::string_view event,
           std::initializer_list<LogField> fields = {}) ABSL_LOCKS_EXCLUDED(mu_);
  void Log(LogLevel level, absl::string_view component, absl::string_view event,
           const std::vector<LogField>& fields) ABSL_LOCKS_EXCLUDED(mu_);

  // Logs text that came from elsewhere (a worker's output): control characters are escaped so it
  // stays one line, and it is cut at kMaxRelayedText bytes.
  void LogRelayed(LogLevel level, absl::string_view component, absl::string_view text)
      ABSL_LOCKS_EXCLUDED(mu_);
  static constexpr size_t kMaxRelayedText = 64 * 1024;

 private:
  void Emit(LogLevel level, absl::string_view component, std::string body) ABSL_LOCKS_EXCLUDED(mu_);
  std::string RedactLocked(std::string line) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::unique_ptr<LogSink> sink_ ABSL_GUARDED_BY(mu_);
  LogLevel min_level_ ABSL_GUARDED_BY(mu_) = LogLevel::kInfo;
  bool timestamps_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<std::string> secrets_ ABSL_GUARDED_BY(mu_);
};

// Shorthands for the process logger.
void LogDebug(absl::string_view component, absl::string_view event,
              std::initializer_list<LogField> fields = {});
void LogInfo(absl::string_view component, absl::string_view event,
             std::initializer_list<LogField> fields = {});
void LogWarning(absl::string_view component, absl::string_view event,
                std::initializer_list<LogField> fields = {});
void LogError(absl::string_view component, absl::string_view event,
              std::initializer_list<LogField> fields = {});

// Escapes control characters, backslashes and non-UTF-8-safe bytes so `text` fits on one line.
std::string EscapeForLog(absl::string_view text);

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_LOGGER_H_
