#include "bridge/workerproto/line_splitter.h"

#include <utility>

namespace runner::workerproto {

LineSplitter::LineSplitter(LineFn on_line, size_t max_line)
    : on_line_(std::move(on_line)), max_line_(max_line) {}

void LineSplitter::Feed(absl::string_view bytes) {
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    bool ends_line = newline != absl::string_view::npos;
    absl::string_view piece = ends_line ? bytes.substr(0, newline) : bytes;
    bytes = ends_line ? bytes.substr(newline + 1) : absl::string_view();

    // The cut start of an oversize line was delivered already; drop the rest up to its '\n'.
    if (discarding_) {
      if (ends_line) discarding_ = false;
      continue;
    }

    size_t room = max_line_ - pending_.size();
    if (piece.size() > room) {
      pending_.append(piece.data(), room);
      on_line_(pending_, /*oversize=*/true);
      pending_.clear();
      discarding_ = !ends_line;
      continue;
    }

    pending_.append(piece.data(), piece.size());
    if (ends_line) {
      on_line_(pending_, /*oversize=*/false);
      pending_.clear();
    }
  }
}

size_t LineSplitter::Finish() {
  size_t dropped = pending_.size();
  pending_.clear();
  discarding_ = false;
  return dropped;
}

}  // namespace runner::workerproto
