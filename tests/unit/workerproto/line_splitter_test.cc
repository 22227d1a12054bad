#include "bridge/workerproto/line_splitter.h"

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::workerproto {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Line {
  std::string text;
  bool oversize;
  bool operator==(const Line& other) const {
    return text == other.text && oversize == other.oversize;
  }
};

void PrintTo(const Line& line, std::ostream* out) {
  *out << "{\"" << line.text << "\", " << (line.oversize ? "oversize" : "whole") << "}";
}

// Feeds `chunks` in order and collects what comes out, including the count Finish() drops.
std::pair<std::vector<Line>, size_t> Split(const std::vector<std::string>& chunks,
                                           size_t max_line = LineSplitter::kDefaultMaxLine) {
  std::vector<Line> lines;
  LineSplitter splitter(
      [&lines](absl::string_view line, bool oversize) {
        lines.push_back({std::string(line), oversize});
      },
      max_line);
  for (const std::string& chunk : chunks) splitter.Feed(chunk);
  size_t dropped = splitter.Finish();
  return {lines, dropped};
}

std::vector<std::string> OneBytePerChunk(const std::string& stream) {
  std::vector<std::string> chunks;
  for (char c : stream) chunks.emplace_back(1, c);
  return chunks;
}

TEST(LineSplitterTest, AnyChunkingGivesTheSameLinesInOrder) {
  const std::string stream = "first\n~{\"type\":\"shutdown\"}\n\nlast line\r\n";
  const std::vector<Line> expected = {
      {"first", false}, {"~{\"type\":\"shutdown\"}", false}, {"", false}, {"last line\r", false}};

  std::vector<std::vector<std::string>> chunkings = {
      {stream},
      OneBytePerChunk(stream),
      {"first", "\n~{\"type\":", "\"shutdown\"}\n", "\nlast line\r\n"},
      {"first\n", "~{\"type\":\"shutdown\"}\n\n", "last line\r", "\n"},
      {"", "first\n~{\"type\":\"shutdown\"}\n\nlast line\r\n", ""},
  };
  for (size_t i = 0; i < chunkings.size(); ++i) {
    SCOPED_TRACE(i);
    auto [lines, dropped] = Split(chunkings[i]);
    EXPECT_EQ(lines, expected);
    EXPECT_EQ(dropped, 0u);
  }
}

TEST(LineSplitterTest, UnterminatedTailIsDroppedAtFinishAndCounted) {
  auto [lines, dropped] = Split({"one\ntwo\nunfinished"});
  EXPECT_THAT(lines, ElementsAre(Line{"one", false}, Line{"two", false}));
  EXPECT_EQ(dropped, 10u);
}

TEST(LineSplitterTest, NothingFedGivesNothing) {
  auto [lines, dropped] = Split({});
  EXPECT_THAT(lines, IsEmpty());
  EXPECT_EQ(dropped, 0u);
}

TEST(LineSplitterTest, LineOfExactlyMaxLineIsWhole) {
  auto [lines, dropped] = Split({"abcde\n"}, /*max_line=*/5);
  EXPECT_THAT(lines, ElementsAre(Line{"abcde", false}));
  EXPECT_EQ(dropped, 0u);
}

TEST(LineSplitterTest, OversizeLineIsCutAndTheRestDiscarded) {
  const std::string stream = "short\nabcdefghij\nnext\n";
  const std::vector<Line> expected = {{"short", false}, {"abcde", true}, {"next", false}};
  for (const auto& chunks : {std::vector<std::string>{stream}, OneBytePerChunk(stream),
                             std::vector<std::string>{"short\nabc", "defg", "hij", "\nnext\n"}}) {
    SCOPED_TRACE(chunks.size());
    auto [lines, dropped] = Split(chunks, /*max_line=*/5);
    EXPECT_EQ(lines, expected);
    EXPECT_EQ(dropped, 0u);
  }
}

TEST(LineSplitterTest, OversizeLineIsDeliveredOnceThoughItNeverEnds) {
  auto [lines, dropped] = Split({"abcdefghij", "klmnop", "qrs"}, /*max_line=*/4);
  EXPECT_THAT(lines, ElementsAre(Line{"abcd", true}));
  // The discarded rest of an oversize line was never held, so nothing is counted as dropped.
  EXPECT_EQ(dropped, 0u);
}

TEST(LineSplitterTest, LinesAfterAnOversizeLineAreWhole) {
  auto [lines, dropped] = Split({"123456\n12\n1234567\n"}, /*max_line=*/3);
  EXPECT_THAT(lines, ElementsAre(Line{"123", true}, Line{"12", false}, Line{"123", true}));
  EXPECT_EQ(dropped, 0u);
}

}  // namespace
}  // namespace runner::workerproto
