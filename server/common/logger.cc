#include "server/common/logger.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace runner::common {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

std::string LocalTimestamp() {
  time_t now = time(nullptr);
  struct tm parts;
  localtime_r(&now, &parts);
  char text[32];
  strftime(text, sizeof(text), "%Y/%m/%d %H:%M:%S ", &parts);
  return text;
}

bool NeedsQuotes(absl::string_view value) {
  if (value.empty()) return true;
  return std::any_of(value.begin(), value.end(), [](char c) {
    return c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20;
  });
}

void AppendField(std::string* out, const LogField& field) {
  absl::StrAppend(out, " ", field.key, "=");
  std::string value = EscapeForLog(field.value);
  if (NeedsQuotes(field.value)) {
    absl::StrAppend(out, "\"", absl::StrReplaceAll(value, {{"\"", "\\\""}}), "\"");
  } else {
    absl::StrAppend(out, value);
  }
}

}  // namespace

std::string EscapeForLog(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char hex[8];
          snprintf(hex, sizeof(hex), "\\x%02x", u);
          out += hex;
        } else {
          out += c;
        }
    }
  }
  return out;
}

void FdLogSink::WriteLine(absl::string_view line) {
  std::string buffer = absl::StrCat(line, "\n");
  size_t done = 0;
  while (done < buffer.size()) {
    ssize_t n = write(fd_, buffer.data() + done, buffer.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a failing log destination
    done += static_cast<size_t>(n);
  }
}

void MemoryLogSink::WriteLine(absl::string_view line) {
  absl::MutexLock lock(&mu_);
  lines_.emplace_back(line);
}

std::vector<std::string> MemoryLogSink::lines() const {
  absl::MutexLock lock(&mu_);
  return lines_;
}

Logger& Logger::Default() {
  static Logger* logger = new Logger();  // never destroyed: threads may log during exit
  return *logger;
}

Logger::Logger() : sink_(std::make_unique<FdLogSink>(STDERR_FILENO)) {}

std::unique_ptr<LogSink> Logger::SetSink(std::unique_ptr<LogSink> sink) {
  absl::MutexLock lock(&mu_);
  std::swap(sink, sink_);
  return sink;
}

void Logger::SetMinLevel(LogLevel level) {
  absl::MutexLock lock(&mu_);
  min_level_ = level;
}

void Logger::SetTimestamps(bool enabled) {
  absl::MutexLock lock(&mu_);
  timestamps_ = enabled;
}

void Logger::AddSecret(absl::string_view secret) {
  if (secret.size() < kMinSecretLength) return;
  absl::MutexLock lock(&mu_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.emplace_back(secret);
  // Longest first, so a secret that contains another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool Logger::Enabled(LogLevel level) const {
  absl::MutexLock lock(&mu_);
  return level >= min_level_;
}

void Logger::Log(LogLevel level, absl::string_view component, absl::string_view event,
                 std::initializer_list<LogField> fields) {
  if (!Enabled(level)) return;
  Log(level, component, event, std::vector<LogField>(fields));
}

void Logger::Log(LogLevel level, absl::string_view component, absl::string_view event,
                 const std::vector<LogField>& fields) {
  if (!Enabled(level)) return;
  std::string body = EscapeForLog(event);
  for (const LogField& field : fields) AppendField(&body, field);
  Emit(level, component, std::move(body));
}

void Logger::LogRelayed(LogLevel level, absl::string_view component, absl::string_view text) {
  if (!Enabled(level)) return;
  bool cut = text.size() > kMaxRelayedText;
  std::string body = EscapeForLog(text.substr(0, kMaxRelayedText));
  if (cut) absl::StrAppend(&body, " [truncated ", text.size() - kMaxRelayedText, " bytes]");
  Emit(level, component, std::move(body));
}

void Logger::Emit(LogLevel level, absl::string_view component, std::string body) {
  absl::MutexLock lock(&mu_);
  std::string line;
  if (timestamps_) line = LocalTimestamp();
  absl::StrAppend(&line, LevelName(level), " ", component, ": ", body);
  sink_->WriteLine(RedactLocked(std::move(line)));
}

std::string Logger::RedactLocked(std::string line) const {
  for (const std::string& secret : secrets_) {
    if (line.find(secret) == std::string::npos) continue;
    line = absl::StrReplaceAll(line, {{secret, "[redacted]"}});
  }
  return line;
}

void LogDebug(absl::string_view component, absl::string_view event,
              std::initializer_list<LogField> fields) {
  Logger::Default().Log(LogLevel::kDebug, component, event, fields);
}
void LogInfo(absl::string_view component, absl::string_view event,
             std::initializer_list<LogField> fields) {
  Logger::Default().Log(LogLevel::kInfo, component, event, fields);
}
void LogWarning(absl::string_view component, absl::string_view event,
                std::initializer_list<LogField> fields) {
  Logger::Default().Log(LogLevel::kWarning, component, event, fields);
}
void LogError(absl::string_view component, absl::string_view event,
              std::initializer_list<LogField> fields) {
  Logger::Default().Log(LogLevel::kError, component, event, fields);
}

}  // namespace runner::common
