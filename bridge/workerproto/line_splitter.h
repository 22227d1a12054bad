#ifndef RUNNER_BRIDGE_WORKERPROTO_LINE_SPLITTER_H_
#define RUNNER_BRIDGE_WORKERPROTO_LINE_SPLITTER_H_

#include <cstddef>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace runner::workerproto {

// Splits a byte stream into '\n'-terminated lines, whatever the chunking. A line longer than
// `max_line` bytes is delivered cut to `max_line` bytes with `oversize` set, and the rest of it
// up to the next '\n' is discarded, so memory stays bounded. Bytes after the last '\n' are
// dropped at Finish() (as upstream does). Not thread-safe: one reader feeds it.
class LineSplitter {
 public:
  using LineFn = std::function<void(absl::string_view line, bool oversize)>;
  static constexpr size_t kDefaultMaxLine = 1024 * 1024;

  explicit LineSplitter(LineFn on_line, size_t max_line = kDefaultMaxLine);

  void Feed(absl::string_view bytes);
  // End of stream: returns the number of trailing bytes dropped (an unterminated last line).
  size_t Finish();

 private:
  LineFn on_line_;
  size_t max_line_;
  std::string pending_;
  bool discarding_ = false;  // inside an oversize line, waiting for its '\n'
};

}  // namespace runner::workerproto

#endif  // RUNNER_BRIDGE_WORKERPROTO_LINE_SPLITTER_H_
