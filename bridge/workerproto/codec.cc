#include "bridge/workerproto/codec.h"

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace runner::workerproto {
namespace {

using Json = nlohmann::json;

constexpr char kTypeWelcome[] = "welcome";
constexpr char kTypeHello[] = "hello";
constexpr char kTypeLog[] = "log";
constexpr char kTypeErrorReport[] = "error-report";
constexpr char kTypeShutdown[] = "shutdown";
constexpr char kTypeGracefulTermination[] = "graceful-termination";
constexpr char kTypeNewCredentials[] = "new-credentials";

// Worker text may hold bytes that are not UTF-8 (through protobuf strings set by callers);
// nlohmann throws on those unless told to substitute them.
std::string CompactJson(const Json& json) {
  return json.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// Parses `text` as exactly one JSON value. Containers nested deeper than kMaxNestingDepth are
// left out of the result and reported through `too_deep`; nlohmann's parser keeps its own
// nesting on the heap, so only our recursive conversions need the cap.
Json ParseBounded(absl::string_view text, bool* too_deep) {
  *too_deep = false;
  Json::parser_callback_t limit_depth = [too_deep](int depth, Json::parse_event_t event, Json&) {
    bool opens =
        event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start;
    if (opens && depth >= kMaxNestingDepth) {
      *too_deep = true;
      return false;
    }
    return true;
  };
  try {
    return Json::parse(text.data(), text.data() + text.size(), limit_depth,
                       /*allow_exceptions=*/false);
  } catch (const Json::exception&) {
    // Not expected with allow_exceptions off; a line we cannot read is plain text either way.
    return Json(Json::value_t::discarded);
  }
}

std::string Expected(absl::string_view property, absl::string_view what, const Json* found) {
  if (found == nullptr) return absl::StrCat("property '", property, "' missing, expected ", what);
  return absl::StrCat("property '", property, "' is ", found->type_name(), ", expected ", what);
}

const Json* Find(const Json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

// Reads a welcome/hello list. A missing or malformed list reads as empty; `problem` says why.
std::vector<std::string> ReadCapabilities(const Json& object, std::string* problem) {
  const Json* list = Find(object, "capabilities");
  bool ok = list != nullptr && list->is_array();
  if (ok) {
    for (const Json& item : *list) ok = ok && item.is_string();
  }
  if (!ok) {
    *problem = Expected("capabilities", "an array of strings", list);
    return {};
  }

  std::vector<std::string> names;
  for (const Json& item : *list) names.push_back(item.get<std::string>());
  return names;
}

// Reads a required string property; false (with `problem` set) when it is missing or not a string.
bool ReadString(const Json& object, const char* name, std::string* out, std::string* problem) {
  const Json* value = Find(object, name);
  if (value == nullptr || !value->is_string()) {
    *problem = Expected(name, "a string", value);
    return false;
  }
  *out = value->get<std::string>();
  return true;
}

bool DecodeErrorReport(const Json& object, WorkerMessage* message, std::string* problem) {
  auto* report = message->mutable_error_report();
  if (!ReadString(object, "kind", report->mutable_kind(), problem) ||
      !ReadString(object, "title", report->mutable_title(), problem) ||
      !ReadString(object, "description", report->mutable_description(), problem)) {
    return false;
  }
  const Json* extra = Find(object, "extra");
  if (extra == nullptr || !extra->is_object()) {
    *problem = Expected("extra", "an object", extra);
    return false;
  }
  *report->mutable_extra() = JsonToStruct(*extra);
  return true;
}

bool DecodeGracefulTermination(const Json& object, WorkerMessage* message, std::string* problem) {
  const Json* finish = Find(object, "finish-tasks");
  if (finish == nullptr || !finish->is_boolean()) {
    *problem = Expected("finish-tasks", "a boolean", finish);
    return false;
  }
  message->mutable_graceful_termination()->set_finish_tasks(finish->get<bool>());
  return true;
}

bool DecodeNewCredentials(const Json& object, WorkerMessage* message, std::string* problem) {
  auto* credentials = message->mutable_new_credentials();
  if (!ReadString(object, "client-id", credentials->mutable_client_id(), problem) ||
      !ReadString(object, "access-token", credentials->mutable_access_token(), problem)) {
    return false;
  }
  // Absent means permanent credentials, like an empty certificate.
  if (Find(object, "certificate") == nullptr) return true;
  return ReadString(object, "certificate", credentials->mutable_certificate(), problem);
}

// Sets the kind of `message` for a known type, without properties (how a malformed message is
// named). False for a type this side does not know.
bool SetKnownKind(const std::string& type, WorkerMessage* message) {
  message->Clear();
  if (type == kTypeWelcome) {
    message->mutable_welcome();
  } else if (type == kTypeHello) {
    message->mutable_hello();
  } else if (type == kTypeLog) {
    message->mutable_log();
  } else if (type == kTypeErrorReport) {
    message->mutable_error_report();
  } else if (type == kTypeShutdown) {
    message->mutable_shutdown();
  } else if (type == kTypeGracefulTermination) {
    message->mutable_graceful_termination();
  } else if (type == kTypeNewCredentials) {
    message->mutable_new_credentials();
  } else {
    return false;
  }
  return true;
}

// Fills `message` from a protocol object of a type this side knows. Returns false when the type
// is unknown. `*valid` is false (with `problem` set) when the properties are unusable.
bool DecodeKnown(const std::string& type, const Json& object, WorkerMessage* message, bool* valid,
                 std::string* problem) {
  *valid = true;
  if (!SetKnownKind(type, message)) return false;

  switch (message->kind_case()) {
    case WorkerMessage::kWelcome:
      for (std::string& name : ReadCapabilities(object, problem)) {
        message->mutable_welcome()->add_capabilities(std::move(name));
      }
      break;
    case WorkerMessage::kHello:
      for (std::string& name : ReadCapabilities(object, problem)) {
        message->mutable_hello()->add_capabilities(std::move(name));
      }
      break;
    case WorkerMessage::kLog:
      // Any JSON is kept; what a body that is not an object means is the reader's call.
      if (const Json* body = Find(object, "body"); body != nullptr) {
        *message->mutable_log()->mutable_body() = JsonToValue(*body);
      }
      break;
    case WorkerMessage::kErrorReport:
      *valid = DecodeErrorReport(object, message, problem);
      break;
    case WorkerMessage::kGracefulTermination:
      *valid = DecodeGracefulTermination(object, message, problem);
      break;
    case WorkerMessage::kNewCredentials:
      *valid = DecodeNewCredentials(object, message, problem);
      break;
    default:
      break;
  }
  return true;
}

Json ValueToJsonAt(const google::protobuf::Value& value, int depth);

Json StructToJsonAt(const google::protobuf::Struct& value, int depth) {
  Json object = Json::object();
  for (const auto& [name, member] : value.fields()) object[name] = ValueToJsonAt(member, depth + 1);
  return object;
}

// `depth` counts the containers around `value`. Containers past kMaxNestingDepth become null:
// DecodeLine never produces them, and the cap keeps the recursion bounded for other callers.
Json ValueToJsonAt(const google::protobuf::Value& value, int depth) {
  switch (value.kind_case()) {
    case google::protobuf::Value::kBoolValue:
      return value.bool_value();
    case google::protobuf::Value::kStringValue:
      return value.string_value();
    case google::protobuf::Value::kNumberValue: {
      double number = value.number_value();
      // Protobuf keeps every number as a double; give whole numbers back their integer form so
      // `10` does not come back as `10.0`. 2^63 itself is out of range, hence the strict bound.
      if (std::isfinite(number) && std::trunc(number) == number && number >= -0x1p63 &&
          number < 0x1p63) {
        return static_cast<int64_t>(number);
      }
      return number;
    }
    case google::protobuf::Value::kStructValue:
      if (depth >= kMaxNestingDepth) return nullptr;
      return StructToJsonAt(value.struct_value(), depth);
    case google::protobuf::Value::kListValue: {
      if (depth >= kMaxNestingDepth) return nullptr;
      Json array = Json::array();
      for (const auto& item : value.list_value().values()) {
        array.push_back(ValueToJsonAt(item, depth + 1));
      }
      return array;
    }
    case google::protobuf::Value::kNullValue:
    case google::protobuf::Value::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

google::protobuf::Value JsonToValueAt(const Json& json, int depth);

google::protobuf::Struct JsonToStructAt(const Json& object, int depth) {
  google::protobuf::Struct result;
  if (!object.is_object()) return result;
  auto* fields = result.mutable_fields();
  for (const auto& [name, member] : object.items()) {
    (*fields)[name] = JsonToValueAt(member, depth + 1);
  }
  return result;
}

google::protobuf::Value JsonToValueAt(const Json& json, int depth) {
  google::protobuf::Value value;
  if (json.is_boolean()) {
    value.set_bool_value(json.get<bool>());
  } else if (json.is_number()) {
    value.set_number_value(json.get<double>());
  } else if (json.is_string()) {
    value.set_string_value(json.get<std::string>());
  } else if (json.is_object() && depth < kMaxNestingDepth) {
    *value.mutable_struct_value() = JsonToStructAt(json, depth);
  } else if (json.is_array() && depth < kMaxNestingDepth) {
    auto* list = value.mutable_list_value();
    for (const Json& item : json) *list->add_values() = JsonToValueAt(item, depth + 1);
  } else {
    // null, binary, discarded, and containers nested too deep.
    value.set_null_value(google::protobuf::NULL_VALUE);
  }
  return value;
}

}  // namespace

DecodedLine DecodeLine(absl::string_view line) {
  DecodedLine decoded;
  absl::string_view stripped = absl::StripAsciiWhitespace(line);
  decoded.text = std::string(stripped);

  // Cheap framing checks first, so ordinary text never reaches the JSON parser.
  if (stripped.size() < 3 || stripped.substr(0, 2) != "~{" || stripped.back() != '}') {
    return decoded;
  }
  bool too_deep = false;
  Json object = ParseBounded(stripped.substr(1), &too_deep);
  if (!object.is_object()) return decoded;
  const Json* type_json = Find(object, "type");
  if (type_json == nullptr || !type_json->is_string()) return decoded;
  std::string type = type_json->get<std::string>();

  if (too_deep) {
    // Too deep to convert safely: a known type is dropped as malformed, anything else is text.
    if (!SetKnownKind(type, &decoded.message)) return decoded;
    decoded.kind = DecodedLine::Kind::kMalformed;
    decoded.text.clear();
    decoded.problem = absl::StrCat("nesting deeper than ", kMaxNestingDepth, " levels");
    return decoded;
  }

  decoded.kind = DecodedLine::Kind::kMessage;
  decoded.text.clear();
  bool valid = true;
  if (!DecodeKnown(type, object, &decoded.message, &valid, &decoded.problem)) {
    auto* other = decoded.message.mutable_other();
    other->set_type(type);
    object.erase("type");
    *other->mutable_properties() = JsonToStruct(object);
  } else if (!valid) {
    // Keep the kind so the message can be named, and nothing that was read from it.
    decoded.kind = DecodedLine::Kind::kMalformed;
    SetKnownKind(type, &decoded.message);
  }
  return decoded;
}

std::string MessageType(const WorkerMessage& message) {
  switch (message.kind_case()) {
    case WorkerMessage::kWelcome:
      return kTypeWelcome;
    case WorkerMessage::kHello:
      return kTypeHello;
    case WorkerMessage::kLog:
      return kTypeLog;
    case WorkerMessage::kErrorReport:
      return kTypeErrorReport;
    case WorkerMessage::kShutdown:
      return kTypeShutdown;
    case WorkerMessage::kGracefulTermination:
      return kTypeGracefulTermination;
    case WorkerMessage::kNewCredentials:
      return kTypeNewCredentials;
    case WorkerMessage::kOther:
      return message.other().type();
    case WorkerMessage::KIND_NOT_SET:
      break;
  }
  return "";
}

nlohmann::json MessageToJson(const WorkerMessage& message) {
  Json object = Json::object();
  switch (message.kind_case()) {
    case WorkerMessage::kWelcome:
      object["capabilities"] = std::vector<std::string>(message.welcome().capabilities().begin(),
                                                        message.welcome().capabilities().end());
      break;
    case WorkerMessage::kHello:
      object["capabilities"] = std::vector<std::string>(message.hello().capabilities().begin(),
                                                        message.hello().capabilities().end());
      break;
    case WorkerMessage::kLog:
      if (message.log().has_body()) object["body"] = ValueToJson(message.log().body());
      break;
    case WorkerMessage::kErrorReport: {
      const auto& report = message.error_report();
      object["kind"] = report.kind();
      object["title"] = report.title();
      object["description"] = report.description();
      object["extra"] = StructToJson(report.extra());
      break;
    }
    case WorkerMessage::kShutdown:
      break;
    case WorkerMessage::kGracefulTermination:
      object["finish-tasks"] = message.graceful_termination().finish_tasks();
      break;
    case WorkerMessage::kNewCredentials: {
      // The certificate is always written, empty for permanent credentials, as workers expect.
      const auto& credentials = message.new_credentials();
      object["client-id"] = credentials.client_id();
      object["access-token"] = credentials.access_token();
      object["certificate"] = credentials.certificate();
      break;
    }
    case WorkerMessage::kOther:
      object = StructToJson(message.other().properties());
      break;
    case WorkerMessage::KIND_NOT_SET:
      return object;
  }
  // Set last, so it wins over a `type` among the properties of an unknown message.
  object["type"] = MessageType(message);
  return object;
}

std::string EncodeLine(const WorkerMessage& message) {
  return absl::StrCat("~", CompactJson(MessageToJson(message)), "\n");
}

nlohmann::json ValueToJson(const google::protobuf::Value& value) { return ValueToJsonAt(value, 0); }

google::protobuf::Value JsonToValue(const nlohmann::json& json) { return JsonToValueAt(json, 0); }

nlohmann::json StructToJson(const google::protobuf::Struct& value) {
  return StructToJsonAt(value, 0);
}

google::protobuf::Struct JsonToStruct(const nlohmann::json& object) {
  return JsonToStructAt(object, 0);
}

}  // namespace runner::workerproto
