#include "bridge/workerproto/codec.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace runner::workerproto {
namespace {

using Kind = DecodedLine::Kind;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// The JSON a decoded message would be written as, for compact comparisons.
std::string AsJson(const WorkerMessage& message) { return MessageToJson(message).dump(); }

// `levels` containers around the number 1.
std::string Nested(absl::string_view open, absl::string_view close, int levels) {
  std::string text;
  for (int i = 0; i < levels; ++i) text.append(open.data(), open.size());
  text += "1";
  for (int i = 0; i < levels; ++i) text.append(close.data(), close.size());
  return text;
}

// The serialized size of whichever message the oneof holds: 0 when it has no properties set.
size_t PropertiesSize(const WorkerMessage& message) {
  const auto* oneof = message.GetDescriptor()->FindOneofByName("kind");
  const auto* field = message.GetReflection()->GetOneofFieldDescriptor(message, oneof);
  if (field == nullptr) return 0;
  return message.GetReflection()->GetMessage(message, field).ByteSizeLong();
}

struct LineCase {
  const char* name;
  std::string line;
  Kind kind;
  // kText: the text; kMessage: the message as JSON; kMalformed: the message type.
  std::string expected;
  // kMalformed: part of the problem; kMessage: part of the tolerated problem, "" for none.
  std::string problem = "";
};

TEST(CodecTest, DecodesLinesByTheFramingRules) {
  const std::vector<LineCase> cases = {
      // Each message type.
      {"welcome", R"(~{"type":"welcome","capabilities":["log","shutdown"]})", Kind::kMessage,
       R"({"capabilities":["log","shutdown"],"type":"welcome"})"},
      {"hello", R"(~{"capabilities":["log"],"type":"hello"})", Kind::kMessage,
       R"({"capabilities":["log"],"type":"hello"})"},
      {"log object", R"(~{"type":"log","body":{"textPayload":"hi","n":10}})", Kind::kMessage,
       R"({"body":{"n":10,"textPayload":"hi"},"type":"log"})"},
      {"log string body", R"(~{"type":"log","body":"plain"})", Kind::kMessage,
       R"({"body":"plain","type":"log"})"},
      {"log null body", R"(~{"type":"log","body":null})", Kind::kMessage,
       R"({"body":null,"type":"log"})"},
      {"log without body", R"(~{"type":"log"})", Kind::kMessage, R"({"type":"log"})"},
      {"error-report",
       R"(~{"type":"error-report","kind":"k","title":"t","description":"d","extra":{"a":[1,2.5]}})",
       Kind::kMessage,
       R"({"description":"d","extra":{"a":[1,2.5]},"kind":"k","title":"t","type":"error-report"})"},
      {"shutdown", R"(~{"type":"shutdown"})", Kind::kMessage, R"({"type":"shutdown"})"},
      {"shutdown ignores properties", R"(~{"type":"shutdown","why":"idle"})", Kind::kMessage,
       R"({"type":"shutdown"})"},
      {"graceful-termination", R"(~{"type":"graceful-termination","finish-tasks":true})",
       Kind::kMessage, R"({"finish-tasks":true,"type":"graceful-termination"})"},
      {"new-credentials",
       R"(~{"type":"new-credentials","client-id":"c","access-token":"a","certificate":"x"})",
       Kind::kMessage,
       R"({"access-token":"a","certificate":"x","client-id":"c","type":"new-credentials"})"},
      {"new-credentials without certificate",
       R"(~{"type":"new-credentials","client-id":"c","access-token":"a"})", Kind::kMessage,
       R"({"access-token":"a","certificate":"","client-id":"c","type":"new-credentials"})"},
      {"unknown type", R"(~{"type":"future","b":[true,null],"a":{"x":"y"}})", Kind::kMessage,
       R"({"a":{"x":"y"},"b":[true,null],"type":"future"})"},

      // Tolerated capability lists.
      {"hello without capabilities", R"(~{"type":"hello"})", Kind::kMessage,
       R"({"capabilities":[],"type":"hello"})", "'capabilities' missing"},
      {"hello capabilities not an array", R"(~{"type":"hello","capabilities":"log"})",
       Kind::kMessage, R"({"capabilities":[],"type":"hello"})", "'capabilities' is string"},
      {"hello capability not a string", R"(~{"type":"hello","capabilities":["log",1]})",
       Kind::kMessage, R"({"capabilities":[],"type":"hello"})", "array of strings"},
      {"welcome capabilities null", R"(~{"type":"welcome","capabilities":null})", Kind::kMessage,
       R"({"capabilities":[],"type":"welcome"})", "'capabilities' is null"},

      // Malformed properties of known types.
      {"error-report kind number",
       R"(~{"type":"error-report","kind":1,"title":"t","description":"d","extra":{}})",
       Kind::kMalformed, "error-report", "'kind' is number, expected a string"},
      {"error-report title missing",
       R"(~{"type":"error-report","kind":"k","description":"d","extra":{}})", Kind::kMalformed,
       "error-report", "'title' missing, expected a string"},
      {"error-report description bool",
       R"(~{"type":"error-report","kind":"k","title":"t","description":true,"extra":{}})",
       Kind::kMalformed, "error-report", "'description' is boolean"},
      {"error-report extra null",
       R"(~{"type":"error-report","kind":"k","title":"t","description":"d","extra":null})",
       Kind::kMalformed, "error-report", "'extra' is null, expected an object"},
      {"error-report extra array",
       R"(~{"type":"error-report","kind":"k","title":"t","description":"d","extra":[]})",
       Kind::kMalformed, "error-report", "'extra' is array, expected an object"},
      {"error-report extra missing",
       R"(~{"type":"error-report","kind":"k","title":"t","description":"d"})", Kind::kMalformed,
       "error-report", "'extra' missing"},
      {"graceful-termination without finish-tasks", R"(~{"type":"graceful-termination"})",
       Kind::kMalformed, "graceful-termination", "'finish-tasks' missing, expected a boolean"},
      {"graceful-termination finish-tasks string",
       R"(~{"type":"graceful-termination","finish-tasks":"false"})", Kind::kMalformed,
       "graceful-termination", "'finish-tasks' is string"},
      {"new-credentials client-id number",
       R"(~{"type":"new-credentials","client-id":5,"access-token":"a"})", Kind::kMalformed,
       "new-credentials", "'client-id' is number"},
      {"new-credentials access-token missing", R"(~{"type":"new-credentials","client-id":"c"})",
       Kind::kMalformed, "new-credentials", "'access-token' missing"},
      {"new-credentials certificate null",
       R"(~{"type":"new-credentials","client-id":"c","access-token":"a","certificate":null})",
       Kind::kMalformed, "new-credentials", "'certificate' is null"},

      // Framing.
      {"crlf", "~{\"type\":\"shutdown\"}\r", Kind::kMessage, R"({"type":"shutdown"})"},
      {"surrounding white space", " \t ~{\"type\":\"shutdown\"}  \r", Kind::kMessage,
       R"({"type":"shutdown"})"},
      {"plain text", "  panic: oh no \r", Kind::kText, "panic: oh no"},
      {"blank", "", Kind::kText, ""},
      {"white space only", " \t\r", Kind::kText, ""},
      {"tilde alone", "~", Kind::kText, "~"},
      {"empty object", "~{}", Kind::kText, "~{}"},
      {"no type", R"(~{"kind":"log"})", Kind::kText, R"(~{"kind":"log"})"},
      {"type not a string", R"(~{"type":5})", Kind::kText, R"(~{"type":5})"},
      {"type null", R"(~{"type":null})", Kind::kText, R"(~{"type":null})"},
      {"trailing object", R"(~{"type":"log"}{})", Kind::kText, R"(~{"type":"log"}{})"},
      {"trailing brace", R"(~{"type":"log"}})", Kind::kText, R"(~{"type":"log"}})"},
      {"broken json", R"(~{"type":"log",})", Kind::kText, R"(~{"type":"log",})"},
      {"unclosed", R"(~{"type":"log")", Kind::kText, R"(~{"type":"log")"},
      {"array", R"(~[{"type":"log"}])", Kind::kText, R"(~[{"type":"log"}])"},
      {"no tilde", R"({"type":"log"})", Kind::kText, R"({"type":"log"})"},
      {"space after tilde", R"(~ {"type":"log"})", Kind::kText, R"(~ {"type":"log"})"},
      {"not utf-8", "~{\"type\":\"log\",\"body\":\"\xff\xfe\"}", Kind::kText,
       "~{\"type\":\"log\",\"body\":\"\xff\xfe\"}"},
      {"comment", R"(~{"type":"log"/*x*/})", Kind::kText, R"(~{"type":"log"/*x*/})"},
  };

  for (const LineCase& c : cases) {
    SCOPED_TRACE(c.name);
    DecodedLine decoded = DecodeLine(c.line);
    ASSERT_EQ(decoded.kind, c.kind);
    switch (c.kind) {
      case Kind::kText:
        EXPECT_EQ(decoded.text, c.expected);
        EXPECT_THAT(decoded.problem, IsEmpty());
        break;
      case Kind::kMessage:
        EXPECT_EQ(AsJson(decoded.message), c.expected);
        if (c.problem.empty()) {
          EXPECT_THAT(decoded.problem, IsEmpty());
        } else {
          EXPECT_THAT(decoded.problem, HasSubstr(c.problem));
        }
        break;
      case Kind::kMalformed:
        EXPECT_EQ(MessageType(decoded.message), c.expected);
        EXPECT_THAT(decoded.problem, HasSubstr(c.problem));
        EXPECT_EQ(PropertiesSize(decoded.message), 0u) << "a dropped message keeps nothing";
        break;
    }
  }
}

TEST(CodecTest, DecodedPropertiesKeepTheirValues) {
  DecodedLine report =
      DecodeLine(R"(~{"type":"error-report","kind":"worker-error","title":"T","description":"D",)"
                 R"("extra":{"free":"1G","n":3}})");
  ASSERT_EQ(report.kind, Kind::kMessage);
  ASSERT_TRUE(report.message.has_error_report());
  EXPECT_EQ(report.message.error_report().kind(), "worker-error");
  EXPECT_EQ(report.message.error_report().title(), "T");
  EXPECT_EQ(report.message.error_report().description(), "D");
  EXPECT_EQ(StructToJson(report.message.error_report().extra()),
            nlohmann::json::parse(R"({"free":"1G","n":3})"));

  DecodedLine credentials = DecodeLine(
      R"(~{"type":"new-credentials","client-id":"c","access-token":"a","certificate":"x"})");
  ASSERT_TRUE(credentials.message.has_new_credentials());
  EXPECT_EQ(credentials.message.new_credentials().client_id(), "c");
  EXPECT_EQ(credentials.message.new_credentials().access_token(), "a");
  EXPECT_EQ(credentials.message.new_credentials().certificate(), "x");

  DecodedLine termination = DecodeLine(R"(~{"type":"graceful-termination","finish-tasks":false})");
  ASSERT_TRUE(termination.message.has_graceful_termination());
  EXPECT_FALSE(termination.message.graceful_termination().finish_tasks());

  DecodedLine other = DecodeLine(R"(~{"type":"future","value":10})");
  ASSERT_TRUE(other.message.has_other());
  EXPECT_EQ(other.message.other().type(), "future");
  EXPECT_EQ(other.message.other().properties().fields().size(), 1);
  EXPECT_EQ(other.message.other().properties().fields().at("value").number_value(), 10.0);

  DecodedLine no_body = DecodeLine(R"(~{"type":"log"})");
  ASSERT_TRUE(no_body.message.has_log());
  EXPECT_FALSE(no_body.message.log().has_body());
}

TEST(CodecTest, NestingUpToTheLimitIsDecoded) {
  // The outer object is one level, so the body may hold kMaxNestingDepth - 1 more.
  std::string body = Nested("[", "]", kMaxNestingDepth - 1);
  DecodedLine decoded = DecodeLine(R"(~{"type":"log","body":)" + body + "}");
  ASSERT_EQ(decoded.kind, Kind::kMessage);
  EXPECT_EQ(ValueToJson(decoded.message.log().body()).dump(), body);
}

// A worker line nested ten thousand levels deep once risked exhausting the stack in the parser
// or the conversions; it must be refused without crashing.
TEST(CodecTest, DeepNestingIsRefusedWithoutCrashing) {
  const int kLevels = 10000;
  for (const auto& [open, close] : std::vector<std::pair<std::string, std::string>>{
           {"[", "]"}, {R"({"a":)", "}"}, {R"([{"a":)", "}]"}}) {
    SCOPED_TRACE(open);
    std::string deep = Nested(open, close, kLevels);

    DecodedLine log = DecodeLine(R"(~{"type":"log","body":)" + deep + "}");
    EXPECT_EQ(log.kind, Kind::kMalformed);
    EXPECT_TRUE(log.message.has_log());
    EXPECT_THAT(log.problem, HasSubstr("nesting deeper than 64 levels"));

    DecodedLine report = DecodeLine(R"(~{"type":"error-report","extra":)" + deep + "}");
    EXPECT_EQ(report.kind, Kind::kMalformed);
    EXPECT_TRUE(report.message.has_error_report());

    std::string unknown = R"(~{"type":"future","x":)" + deep + "}";
    DecodedLine other = DecodeLine(unknown);
    EXPECT_EQ(other.kind, Kind::kText);
    EXPECT_EQ(other.text, unknown);
  }

  std::string one_too_deep = R"(~{"type":"log","body":)" + Nested("[", "]", kMaxNestingDepth) + "}";
  EXPECT_EQ(DecodeLine(one_too_deep).kind, Kind::kMalformed);

  // Broken deep input is plain text, as any broken JSON is.
  std::string unclosed = "~{\"type\":\"log\",\"body\":" + std::string(kLevels, '[') + "}";
  EXPECT_EQ(DecodeLine(unclosed).kind, Kind::kText);
}

TEST(CodecTest, EncodesExactBytes) {
  WorkerMessage other;
  other.mutable_other()->set_type("abc");
  EXPECT_EQ(EncodeLine(other), "~{\"type\":\"abc\"}\n");

  WorkerMessage termination;
  termination.mutable_graceful_termination()->set_finish_tasks(false);
  EXPECT_EQ(EncodeLine(termination),
            "~{\"finish-tasks\":false,\"type\":\"graceful-termination\"}\n");

  WorkerMessage credentials;
  credentials.mutable_new_credentials()->set_client_id("worker/p/a");
  credentials.mutable_new_credentials()->set_access_token("TOKEN");
  EXPECT_EQ(EncodeLine(credentials),
            "~{\"access-token\":\"TOKEN\",\"certificate\":\"\",\"client-id\":\"worker/p/a\","
            "\"type\":\"new-credentials\"}\n");
  credentials.mutable_new_credentials()->set_certificate("{\"version\":1}");
  EXPECT_EQ(EncodeLine(credentials),
            "~{\"access-token\":\"TOKEN\",\"certificate\":\"{\\\"version\\\":1}\","
            "\"client-id\":\"worker/p/a\",\"type\":\"new-credentials\"}\n");

  WorkerMessage welcome;
  for (const char* name :
       {"error-report", "graceful-termination", "log", "new-credentials", "shutdown"}) {
    welcome.mutable_welcome()->add_capabilities(name);
  }
  EXPECT_EQ(EncodeLine(welcome),
            "~{\"capabilities\":[\"error-report\",\"graceful-termination\",\"log\","
            "\"new-credentials\",\"shutdown\"],\"type\":\"welcome\"}\n");

  WorkerMessage empty_welcome;
  empty_welcome.mutable_welcome();
  EXPECT_EQ(EncodeLine(empty_welcome), "~{\"capabilities\":[],\"type\":\"welcome\"}\n");

  WorkerMessage shutdown;
  shutdown.mutable_shutdown();
  EXPECT_EQ(EncodeLine(shutdown), "~{\"type\":\"shutdown\"}\n");
}

TEST(CodecTest, EncodedTypeWinsOverATypeProperty) {
  WorkerMessage other;
  other.mutable_other()->set_type("abc");
  (*other.mutable_other()->mutable_properties()->mutable_fields())["type"].set_string_value("x");
  (*other.mutable_other()->mutable_properties()->mutable_fields())["value"].set_number_value(10);
  EXPECT_EQ(EncodeLine(other), "~{\"type\":\"abc\",\"value\":10}\n");
}

TEST(CodecTest, EncodingSubstitutesBytesThatAreNotUtf8) {
  WorkerMessage credentials;
  credentials.mutable_new_credentials()->set_client_id("bad\xff");
  std::string line = EncodeLine(credentials);
  EXPECT_THAT(line, HasSubstr("\"client-id\":\"bad\xEF\xBF\xBD\""));
  EXPECT_EQ(DecodeLine(line).kind, Kind::kMessage);
}

TEST(CodecTest, DecodeOfEncodeGivesTheSameMessage) {
  std::vector<std::string> lines = {
      R"(~{"type":"welcome","capabilities":["log","shutdown"]})",
      R"(~{"type":"hello","capabilities":[]})",
      R"(~{"type":"log","body":{"textPayload":"x","n":-2.5,"big":1e300,"list":[1,"a",null,{}]}})",
      R"(~{"type":"log","body":7})",
      R"(~{"type":"log"})",
      R"(~{"type":"error-report","kind":"k","title":"t","description":"d","extra":{}})",
      R"(~{"type":"shutdown"})",
      R"(~{"type":"graceful-termination","finish-tasks":true})",
      R"(~{"type":"graceful-termination","finish-tasks":false})",
      R"(~{"type":"new-credentials","client-id":"c","access-token":"a","certificate":"x"})",
      R"(~{"type":"new-credentials","client-id":"c","access-token":"a"})",
      R"(~{"type":"future","value":10,"nested":{"deep":[true,false]},"text":"<&>\u00e9"})",
  };
  for (const std::string& line : lines) {
    SCOPED_TRACE(line);
    DecodedLine first = DecodeLine(line);
    ASSERT_EQ(first.kind, Kind::kMessage);
    std::string encoded = EncodeLine(first.message);
    ASSERT_EQ(encoded.back(), '\n');
    DecodedLine second = DecodeLine(encoded.substr(0, encoded.size() - 1));
    ASSERT_EQ(second.kind, Kind::kMessage);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(first.message, second.message))
        << first.message.DebugString() << " vs " << second.message.DebugString();
    EXPECT_EQ(EncodeLine(second.message), encoded);
  }
}

TEST(CodecTest, WholeNumbersComeBackAsIntegers) {
  auto number = [](double d) {
    google::protobuf::Value value;
    value.set_number_value(d);
    return ValueToJson(value);
  };
  EXPECT_EQ(number(10).dump(), "10");
  EXPECT_EQ(number(-3).dump(), "-3");
  EXPECT_EQ(number(-0.0).dump(), "0");
  EXPECT_EQ(number(2.5).dump(), "2.5");
  EXPECT_EQ(number(1e18).dump(), "1000000000000000000");
  EXPECT_EQ(number(-0x1p63).dump(), "-9223372036854775808");
  EXPECT_TRUE(number(0x1p63).is_number_float());
  EXPECT_EQ(number(1e21).dump(), "1e+21");
  EXPECT_TRUE(number(std::numeric_limits<double>::quiet_NaN()).is_number_float());
  EXPECT_TRUE(number(std::numeric_limits<double>::infinity()).is_number_float());
}

TEST(CodecTest, ValueConversionsCoverEveryKind) {
  nlohmann::json json = nlohmann::json::parse(
      R"({"s":"x","n":1.5,"i":4,"b":false,"z":null,"a":[1,[2]],"o":{"k":{}}})");
  google::protobuf::Struct proto = JsonToStruct(json);
  EXPECT_EQ(proto.fields().at("s").string_value(), "x");
  EXPECT_EQ(proto.fields().at("i").number_value(), 4.0);
  EXPECT_TRUE(proto.fields().at("z").has_null_value());
  EXPECT_EQ(StructToJson(proto), json);
  EXPECT_EQ(ValueToJson(JsonToValue(json)), json);
  EXPECT_TRUE(ValueToJson(google::protobuf::Value()).is_null());
  EXPECT_THAT(JsonToStruct(nlohmann::json::array()).fields(), IsEmpty());
}

TEST(CodecTest, ConversionsStopAtTheNestingLimit) {
  // Built directly, not parsed, so the conversions' own bound is what protects the stack.
  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 1000; ++i) deep = nlohmann::json::array({deep});
  google::protobuf::Value value = JsonToValue(deep);
  int depth = 0;
  for (const auto* v = &value; v->has_list_value(); v = &v->list_value().values(0)) ++depth;
  EXPECT_EQ(depth, kMaxNestingDepth);

  google::protobuf::Value proto_deep;
  proto_deep.set_string_value("leaf");
  for (int i = 0; i < 200; ++i) {
    google::protobuf::Value outer;
    *outer.mutable_list_value()->add_values() = proto_deep;
    proto_deep = outer;
  }
  nlohmann::json back = ValueToJson(proto_deep);
  depth = 0;
  for (const auto* j = &back; j->is_array(); j = &(*j)[0]) ++depth;
  EXPECT_EQ(depth, kMaxNestingDepth);
}

TEST(CodecTest, MessageTypeNamesEveryKind) {
  WorkerMessage message;
  EXPECT_EQ(MessageType(message), "");
  EXPECT_EQ(EncodeLine(message), "~{}\n");
  message.mutable_hello();
  EXPECT_EQ(MessageType(message), "hello");
  message.mutable_log();
  EXPECT_EQ(MessageType(message), "log");
  message.mutable_error_report();
  EXPECT_EQ(MessageType(message), "error-report");
  message.mutable_other()->set_type("custom");
  EXPECT_EQ(MessageType(message), "custom");
}

}  // namespace
}  // namespace runner::workerproto
