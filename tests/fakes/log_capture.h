#ifndef RUNNER_TESTS_FAKES_LOG_CAPTURE_H_
#define RUNNER_TESTS_FAKES_LOG_CAPTURE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

#include "server/common/logger.h"

namespace runner::test_support {

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

}  // namespace runner::test_support

#endif  // RUNNER_TESTS_FAKES_LOG_CAPTURE_H_
