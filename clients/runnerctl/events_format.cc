#include "clients/runnerctl/events_format.h"

#include <cmath>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

#include "clients/runnerctl/status_format.h"

namespace runner::runnerctl {
namespace {

namespace v1 = workerrunner::v1;
using google::protobuf::util::TimeUtil;

constexpr std::pair<v1::EventKind, const char*> kKindNames[] = {
    {v1::EVENT_KIND_CURRENT_STATE, "current-state"},
    {v1::EVENT_KIND_RUNNER_STATE, "runner-state"},
    {v1::EVENT_KIND_WORKER_STATE, "worker-state"},
    {v1::EVENT_KIND_INTERRUPTION, "interruption"},
    {v1::EVENT_KIND_ADVISORY, "advisory"},
    {v1::EVENT_KIND_CREDENTIALS, "credentials"},
    {v1::EVENT_KIND_ERROR_REPORT, "error-report"},
    {v1::EVENT_KIND_SHUTDOWN_REQUEST, "shutdown-request"},
    {v1::EVENT_KIND_DRAIN, "drain"},
    {v1::EVENT_KIND_RUNNER_STOPPING, "runner-stopping"},
};

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(timestamp));
}

std::string StateWord(v1::RunState state) {
  switch (state) {
    case v1::RUN_STATE_STARTING:
      return "starting";
    case v1::RUN_STATE_STARTING_WORKER:
      return "starting worker";
    case v1::RUN_STATE_RUNNING:
      return "running";
    case v1::RUN_STATE_STOPPING:
      return "stopping";
    default:
      return "unknown";
  }
}

std::string DrainOutcomeWord(v1::DrainOutcome outcome) {
  switch (outcome) {
    case v1::DRAIN_OUTCOME_SENT:
      return "sent";
    case v1::DRAIN_OUTCOME_QUEUED:
      return "queued until hello";
    case v1::DRAIN_OUTCOME_NOT_CAPABLE:
      return "worker cannot be told";
    case v1::DRAIN_OUTCOME_NO_WORKER:
      return "no worker running";
    case v1::DRAIN_OUTCOME_ALREADY_SENT:
      return "already sent";
    default:
      return "unknown";
  }
}

std::string Relative(absl::Time time, absl::Time now) {
  return time <= now ? absl::StrCat(ShortDuration(now - time), " ago")
                     : absl::StrCat("in ", ShortDuration(time - now));
}

// What happened, in words; every string from the runner made printable.
std::string Describe(const v1::Event& event, absl::Time now, absl::TimeZone zone) {
  switch (event.kind()) {
    case v1::EVENT_KIND_CURRENT_STATE: {
      const v1::RunnerStatus& status = event.current_state();
      std::string text = StateWord(status.state());
      if (!status.worker_id().empty()) {
        absl::StrAppend(&text, ", worker ", Printable(status.worker_group()), "/",
                        Printable(status.worker_id()));
      }
      if (status.worker_pid() > 0) absl::StrAppend(&text, ", pid ", status.worker_pid());
      if (status.has_interruption()) {
        absl::StrAppend(&text, ", interrupted (", Printable(status.interruption().kind()), ")");
      }
      return text;
    }
    case v1::EVENT_KIND_RUNNER_STATE:
      return StateWord(event.runner_state());
    case v1::EVENT_KIND_WORKER_STATE: {
      const v1::WorkerStateChange& change = event.worker_state();
      switch (change.change()) {
        case v1::WorkerStateChange::CHANGE_STARTED:
          return absl::StrCat("started, pid ", change.pid());
        case v1::WorkerStateChange::CHANGE_NEGOTIATED: {
          std::vector<std::string> capabilities;
          for (const std::string& c : change.capabilities()) capabilities.push_back(Printable(c));
          return absl::StrCat("negotiated: ", capabilities.empty()
                                                  ? "no capabilities"
                                                  : absl::StrJoin(capabilities, ", "));
        }
        case v1::WorkerStateChange::CHANGE_EXITED:
          return absl::StrCat("exited (", change.exit_status(), "), pid ", change.pid());
        default:
          return "changed";
      }
    }
    case v1::EVENT_KIND_INTERRUPTION:
    case v1::EVENT_KIND_ADVISORY: {
      const v1::Interruption& interruption = event.interruption();
      std::string text =
          absl::StrCat(Printable(interruption.kind()), " from ", Printable(interruption.source()));
      if (interruption.has_deadline()) {
        absl::Time deadline = FromProto(interruption.deadline());
        absl::StrAppend(&text, ", deadline ",
                        absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", deadline, zone), " (",
                        Relative(deadline, now), ")");
      }
      return text;
    }
    case v1::EVENT_KIND_CREDENTIALS: {
      absl::Time expire = FromProto(event.credentials_expire());
      return absl::StrCat("credentials expire ",
                          absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", expire, zone), " (",
                          Relative(expire, now), ")");
    }
    case v1::EVENT_KIND_ERROR_REPORT:
      return absl::StrCat(Printable(event.error_report().kind()), ": ",
                          Printable(event.error_report().title()));
    case v1::EVENT_KIND_SHUTDOWN_REQUEST:
      return "the worker asked for shutdown";
    case v1::EVENT_KIND_DRAIN:
      return absl::StrCat("by uid ", event.drain().uid(),
                          event.drain().finish_tasks() ? ", finish tasks" : "", ": ",
                          DrainOutcomeWord(event.drain().outcome()));
    case v1::EVENT_KIND_RUNNER_STOPPING:
      return "the runner is stopping";
    default:
      return "";
  }
}

std::string ToJson(const google::protobuf::Message& message, bool indent) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = indent;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) return "{}\n";
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

// JSON text of a string, safe on a terminal: quotes, backslashes, control characters and the
// UTF-8 encoded C1 range escaped.
std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    unsigned char next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\u%04x", c);
    } else if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
      out += absl::StrFormat("\\u%04x", next);
      ++i;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

// Indented JSON with object keys sorted, so the output reads the same every time.
void AppendJsonValue(const google::protobuf::Value& value, int depth, std::string* out) {
  const std::string indent((depth + 1) * 2, ' '), closing(depth * 2, ' ');
  switch (value.kind_case()) {
    case google::protobuf::Value::kStructValue: {
      std::map<std::string, const google::protobuf::Value*> sorted;
      for (const auto& [key, member] : value.struct_value().fields()) sorted[key] = &member;
      if (sorted.empty()) {
        out->append("{}");
        return;
      }
      out->append("{\n");
      size_t i = 0;
      for (const auto& [key, member] : sorted) {
        absl::StrAppend(out, indent, JsonString(key), ": ");
        AppendJsonValue(*member, depth + 1, out);
        out->append(++i < sorted.size() ? ",\n" : "\n");
      }
      absl::StrAppend(out, closing, "}");
      return;
    }
    case google::protobuf::Value::kListValue: {
      const auto& items = value.list_value().values();
      if (items.empty()) {
        out->append("[]");
        return;
      }
      out->append("[\n");
      for (int i = 0; i < items.size(); ++i) {
        out->append(indent);
        AppendJsonValue(items[i], depth + 1, out);
        out->append(i + 1 < items.size() ? ",\n" : "\n");
      }
      absl::StrAppend(out, closing, "]");
      return;
    }
    case google::protobuf::Value::kStringValue:
      out->append(JsonString(value.string_value()));
      return;
    case google::protobuf::Value::kNumberValue: {
      double number = value.number_value();
      // Whole numbers print as integers, the way the worker's configuration has them.
      if (std::abs(number) < 1e15 && number == std::floor(number)) {
        absl::StrAppend(out, static_cast<int64_t>(number));
      } else {
        absl::StrAppend(out, number);
      }
      return;
    }
    case google::protobuf::Value::kBoolValue:
      out->append(value.bool_value() ? "true" : "false");
      return;
    default:
      out->append("null");
      return;
  }
}

}  // namespace

std::string EventKindName(v1::EventKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return absl::StrCat("kind-", static_cast<int>(kind));
}

std::optional<v1::EventKind> EventKindFromName(absl::string_view name) {
  for (const auto& [value, kind_name] : kKindNames) {
    if (value != v1::EVENT_KIND_CURRENT_STATE && name == kind_name) return value;
  }
  return std::nullopt;
}

std::string EventKindNames() {
  std::vector<std::string> names;
  for (const auto& [value, name] : kKindNames) {
    if (value != v1::EVENT_KIND_CURRENT_STATE) names.push_back(name);
  }
  return absl::StrJoin(names, ", ");
}

std::string FormatEventText(const v1::Event& event, absl::Time now, absl::TimeZone zone) {
  absl::Time time = FromProto(event.time());
  std::string when = absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", time, zone), " (",
                                  Relative(time, now), ")");
  std::string sequence = absl::StrCat("#", event.sequence());
  std::string kind = EventKindName(event.kind());
  // Fixed widths keep the columns aligned across lines of one run.
  return absl::StrCat(sequence, std::string(sequence.size() < 6 ? 6 - sequence.size() : 1, ' '),
                      when, "  ", kind, std::string(kind.size() < 17 ? 17 - kind.size() : 1, ' '),
                      Describe(event, now, zone), "\n");
}

std::string FormatEventJson(const v1::Event& event) { return ToJson(event, /*indent=*/false); }

std::string FormatConfigText(const v1::WorkerConfig& config) {
  google::protobuf::Value root;
  *root.mutable_struct_value() = config.config();
  std::string out;
  AppendJsonValue(root, 0, &out);
  out.push_back('\n');
  if (config.redacted().empty()) {
    absl::StrAppend(&out, "redacted: nothing\n");
  } else {
    std::vector<std::string> paths;
    for (const std::string& path : config.redacted()) paths.push_back(Printable(path));
    absl::StrAppend(&out, "redacted: ", absl::StrJoin(paths, ", "), "\n");
  }
  return out;
}

std::string FormatConfigJson(const v1::WorkerConfig& config) {
  return ToJson(config, /*indent=*/true);
}

std::string FormatDrainText(const v1::DrainResponse& response) {
  return absl::StrCat("drain: ", DrainOutcomeWord(response.outcome()), ": ",
                      Printable(response.message()), "\n");
}

std::string FormatDrainJson(const v1::DrainResponse& response) {
  return ToJson(response, /*indent=*/true);
}

}  // namespace runner::runnerctl
