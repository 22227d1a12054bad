#include "server/common/json_merge.h"

#include "gtest/gtest.h"

namespace runner::common {
namespace {

using nlohmann::json;

struct MergeCase {
  const char* name;
  json low;
  json high;
  json expected;
};

TEST(MergeJsonTest, FollowsTheWorkerConfigMergeRules) {
  const MergeCase cases[] = {
      {"distinct keys make a union", {{"a", 1}}, {{"b", 2}}, {{"a", 1}, {"b", 2}}},
      {"same scalar key: high wins", {{"a", 1}}, {{"a", 2}}, {{"a", 2}}},
      {"object against number: number wins", {{"a", {{"x", 1}}}}, {{"a", 5}}, {{"a", 5}}},
      {"arrays concatenate", {{"a", {"x"}}}, {{"a", {"y"}}}, {{"a", {"x", "y"}}}},
      {"nested objects merge",
       {{"x", {{"a", 10}}}},
       {{"x", {{"b", 10}}}},
       {{"x", {{"a", 10}, {"b", 10}}}}},
      {"null in high stores null", {{"a", 1}}, {{"a", nullptr}}, {{"a", nullptr}}},
      {"missing low gives high", nullptr, {{"a", 1}}, {{"a", 1}}},
      {"empty objects", json::object(), json::object(), json::object()},
  };
  for (const MergeCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(MergeJson(c.low, c.high), c.expected);
  }
}

TEST(MergeJsonTest, LeavesItsInputsUnchanged) {
  const json low = {{"x", {{"a", 1}}}, {"list", {1}}};
  const json high = {{"x", {{"b", 2}}}, {"list", {2}}};
  json low_copy = low, high_copy = high;
  MergeJson(low, high);
  EXPECT_EQ(low, low_copy);
  EXPECT_EQ(high, high_copy);
}

}  // namespace
}  // namespace runner::common
