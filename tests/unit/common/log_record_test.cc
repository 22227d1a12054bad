#include "server/common/log_record.h"

#include "gtest/gtest.h"

namespace runner::common {
namespace {

TEST(FormatLogRecordTest, RendersRecordsLikeTheStdioDestination) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({})", "{}"},
      {R"({"b":"oh","a":"uh"})", "a: uh; b: oh"},
      {R"({"textPayload":"uhoh","level":"bad"})", "uhoh; level: bad"},
      {R"({"textPayload":["uh","oh"],"level":"bad"})", R"(level: bad; textPayload: ["uh","oh"])"},
      {R"({"number":4,"bool":false,"array":[1,2]})", "array: [1,2]; bool: false; number: 4"},
      {R"({"textPayload":""})", "{}"},
      {R"({"metric":"foos","value":10})", "metric: foos; value: 10"},
      {R"({"big":1e21})", "big: 1e+21"},
      {R"({"nested":{"a":1}})", R"(nested: {"a":1})"},
  };
  for (const auto& [record, expected] : cases) {
    SCOPED_TRACE(record);
    EXPECT_EQ(FormatLogRecord(nlohmann::json::parse(record)), expected);
  }
}

TEST(FormatLogRecordTest, NonObjectIsCompactJson) {
  EXPECT_EQ(FormatLogRecord(nlohmann::json::parse("[1,\"a\"]")), R"([1,"a"])");
}

}  // namespace
}  // namespace runner::common
