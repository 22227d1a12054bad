#include "server/config/yaml_scalar.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::config {
namespace {

TEST(YamlScalarTest, ResolvesPlainScalarsLikeTheCoreSchema) {
  struct Case {
    std::string text;
    ScalarKind kind;
  };
  const std::vector<Case> cases = {
      {"", ScalarKind::kNull},
      {"~", ScalarKind::kNull},
      {"null", ScalarKind::kNull},
      {"Null", ScalarKind::kNull},
      {"NULL", ScalarKind::kNull},
      {"nULL", ScalarKind::kString},
      {"true", ScalarKind::kBool},
      {"False", ScalarKind::kBool},
      {"yes", ScalarKind::kString},
      {"on", ScalarKind::kString},
      {"0", ScalarKind::kInt},
      {"12345", ScalarKind::kInt},
      {"-12", ScalarKind::kInt},
      {"+12", ScalarKind::kInt},
      {"0x1F", ScalarKind::kInt},
      {"0o17", ScalarKind::kInt},
      {"0b101", ScalarKind::kInt},
      {"017", ScalarKind::kInt},
      {"1_000", ScalarKind::kInt},
      {"0042", ScalarKind::kInt},
      {"089", ScalarKind::kFloat},  // not octal, but it still reads as a decimal float
      {"1.5", ScalarKind::kFloat},
      {"1.", ScalarKind::kFloat},
      {".5", ScalarKind::kFloat},
      {"-1e3", ScalarKind::kFloat},
      {".inf", ScalarKind::kFloat},
      {"-.Inf", ScalarKind::kFloat},
      {".NaN", ScalarKind::kFloat},
      {"1e999", ScalarKind::kString},  // out of range
      {"2001-12-14", ScalarKind::kTimestamp},
      {"2001-12-14T21:59:43Z", ScalarKind::kTimestamp},
      {"2001-12-14 21:59:43.10", ScalarKind::kTimestamp},
      {"2001-12-14T21:59:43", ScalarKind::kString},  // 'T' form needs a zone
      {"2001-02-30", ScalarKind::kString},
      {"1.2.3", ScalarKind::kString},
      {"0x", ScalarKind::kString},
      {"-", ScalarKind::kString},
      {"desk-7", ScalarKind::kString},
      {"_1", ScalarKind::kString},
      {"/usr/bin/x", ScalarKind::kString},
      {"hw-static", ScalarKind::kString},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(ResolvePlainScalar(c.text), c.kind);
  }
}

TEST(YamlScalarTest, ParsesIntegersInEveryBase) {
  struct Case {
    std::string text;
    int64_t value;
  };
  const std::vector<Case> cases = {
      {"0", 0},
      {"10", 10},
      {"-10", -10},
      {"+7", 7},
      {"0x1f", 31},
      {"-0x1f", -31},
      {"0o17", 15},
      {"017", 15},
      {"0b101", 5},
      {"1_000_000", 1000000},
      {"9223372036854775807", 9223372036854775807},
      {"-9223372036854775808", INT64_MIN},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::optional<YamlInteger> value = ParseYamlInteger(c.text);
    ASSERT_TRUE(value.has_value());
    EXPECT_FALSE(value->is_unsigned);
    EXPECT_EQ(value->signed_value, c.value);
  }

  std::optional<YamlInteger> big = ParseYamlInteger("18446744073709551615");
  ASSERT_TRUE(big.has_value());
  EXPECT_TRUE(big->is_unsigned);
  EXPECT_EQ(big->unsigned_value, UINT64_MAX);

  for (const char* text : {"18446744073709551616", "+9223372036854775808", "-9223372036854775809",
                           "08", "0b2", "1.0", "", "x1"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ParseYamlInteger(text).has_value());
  }
}

TEST(YamlScalarTest, ParsesFloats) {
  EXPECT_DOUBLE_EQ(*ParseYamlFloat("1.5"), 1.5);
  EXPECT_DOUBLE_EQ(*ParseYamlFloat("-2.5e2"), -250.0);
  EXPECT_DOUBLE_EQ(*ParseYamlFloat("1_0.5"), 10.5);
  EXPECT_TRUE(std::isinf(*ParseYamlFloat("+.INF")));
  EXPECT_TRUE(std::isnan(*ParseYamlFloat(".nan")));
  EXPECT_FALSE(ParseYamlFloat("1e999").has_value());
  EXPECT_FALSE(ParseYamlFloat("e5").has_value());
  EXPECT_FALSE(ParseYamlFloat(".").has_value());
  EXPECT_FALSE(ParseYamlFloat("1.5x").has_value());
}

TEST(YamlScalarTest, ReadsBooleanWordsOnlyWhereAllowed) {
  for (const char* word : {"true", "True", "TRUE"}) EXPECT_EQ(ParseCoreBool(word), true) << word;
  for (const char* word : {"false", "False", "FALSE"}) {
    EXPECT_EQ(ParseCoreBool(word), false) << word;
  }
  for (const char* word : {"yes", "on", "y", "tRUE", "1"}) {
    EXPECT_FALSE(ParseCoreBool(word).has_value()) << word;
  }
  for (const char* word : {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"}) {
    EXPECT_EQ(ParseBoolWord(word), true) << word;
  }
  for (const char* word : {"n", "N", "no", "No", "NO", "off", "Off", "OFF"}) {
    EXPECT_EQ(ParseBoolWord(word), false) << word;
  }
  for (const char* word : {"1", "0", "yEs", "enabled", ""}) {
    EXPECT_FALSE(ParseBoolWord(word).has_value()) << word;
  }
}

TEST(YamlScalarTest, RewritesTimestampsAsRfc3339) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"2001-12-14", "2001-12-14T00:00:00Z"},
      {"2001-1-2", "2001-01-02T00:00:00Z"},
      {"2001-12-14t21:59:43.10-05:00", "2001-12-14T21:59:43.1-05:00"},
      {"2001-12-14T21:59:43.000Z", "2001-12-14T21:59:43Z"},
      {"2001-12-14T21:59:43+00:00", "2001-12-14T21:59:43Z"},
      {"2001-12-14 21:59:43.123456789123", "2001-12-14T21:59:43.123456789Z"},
      {"2001-12-14T1:2:3+05:30", "2001-12-14T01:02:03+05:30"},
      {"2000-02-29", "2000-02-29T00:00:00Z"},
  };
  for (const auto& [text, rfc3339] : cases) {
    SCOPED_TRACE(text);
    EXPECT_EQ(TimestampToRfc3339(text), rfc3339);
  }
  for (const char* text : {"2001-12-14T21:59:43", "2001-13-01", "1900-02-29", "01-12-14",
                           "2001-12-14 21:59:43Z", "2001-12-14T24:00:00Z", "2001-12-14x"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(TimestampToRfc3339(text).has_value());
  }
}

TEST(YamlScalarTest, DecodesBase64WithLineBreaks) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGVs\nbG8=\n"), "hello");
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_FALSE(DecodeBase64("@@@@").has_value());
}

TEST(YamlScalarTest, FindsTheFirstInvalidUtf8Byte) {
  EXPECT_EQ(FindInvalidUtf8("plain caf\xC3\xA9"), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8(""), std::nullopt);
  EXPECT_EQ(FindInvalidUtf8("ab\xFF"), 2u);
  EXPECT_EQ(FindInvalidUtf8("a\xC3"), 1u);
  EXPECT_EQ(FindInvalidUtf8("\xEF\xBB\xBFok"), std::nullopt);  // a byte order mark is fine
}

TEST(YamlScalarTest, ReplacesInvalidUtf8) {
  EXPECT_EQ(ToValidUtf8("plain"), "plain");
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(ToValidUtf8("a\xFF"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(ToValidUtf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // cut short
  EXPECT_EQ(ToValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

}  // namespace
}  // namespace runner::config
