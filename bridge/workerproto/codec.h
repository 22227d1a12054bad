#ifndef RUNNER_BRIDGE_WORKERPROTO_CODEC_H_
#define RUNNER_BRIDGE_WORKERPROTO_CODEC_H_

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

#include "proto/workerproto.pb.h"

namespace runner::workerproto {

using WorkerMessage = ::workerrunner::v1::WorkerMessage;

// What one line of a worker's output turned out to be.
struct DecodedLine {
  enum class Kind {
    kMessage,    // `message` holds a protocol message
    kText,       // not a protocol line; `text` holds the stripped line (log it as plain text)
    kMalformed,  // a protocol line of a known type whose properties have the wrong types;
                 // `problem` says which (log it and drop the message); `message` has its kind
                 // set but no properties, so MessageType() names it
  };
  Kind kind = Kind::kText;
  WorkerMessage message;
  std::string text;
  // For kMessage, a note on something tolerated (e.g. hello capabilities that are not an array
  // of strings, read as an empty list); for kMalformed, why the message was dropped.
  std::string problem;
};

// The deepest nesting of JSON arrays and objects a line may hold, its outer object included.
// Deeper lines are not converted (kMalformed for known types, kText otherwise), so hostile input
// cannot exhaust the stack.
inline constexpr int kMaxNestingDepth = 64;

// Decodes one line (without its '\n') by the framing rules of the text protocol: white space is
// stripped, and a line is a message when it is `~{...}` holding one JSON object with a string
// `type`. Unknown types become `other`. Never fails: anything else is kText or kMalformed.
DecodedLine DecodeLine(absl::string_view line);

// Encodes a message as `~` + compact JSON + '\n'. `type` comes from the message kind.
std::string EncodeLine(const WorkerMessage& message);

// The protocol `type` of a message ("log", "error-report", ...; other.type for unknown ones);
// empty when no kind is set.
std::string MessageType(const WorkerMessage& message);

// The JSON object form of a message, `type` included (what EncodeLine writes after the `~`).
nlohmann::json MessageToJson(const WorkerMessage& message);

// google.protobuf.Value/Struct <-> JSON. Numbers are doubles in protobuf; whole numbers that fit
// come back as JSON integers.
nlohmann::json ValueToJson(const google::protobuf::Value& value);
google::protobuf::Value JsonToValue(const nlohmann::json& json);
nlohmann::json StructToJson(const google::protobuf::Struct& value);
google::protobuf::Struct JsonToStruct(const nlohmann::json& object);  // requires an object

}  // namespace runner::workerproto

#endif  // RUNNER_BRIDGE_WORKERPROTO_CODEC_H_
