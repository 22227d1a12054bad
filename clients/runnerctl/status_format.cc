#include "clients/runnerctl/status_format.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace runner::runnerctl {
namespace {

using google::protobuf::util::TimeUtil;

const char* StateName(workerrunner::v1::RunState state) {
  switch (state) {
    case workerrunner::v1::RUN_STATE_STARTING:
      return "starting";
    case workerrunner::v1::RUN_STATE_STARTING_WORKER:
      return "starting worker";
    case workerrunner::v1::RUN_STATE_RUNNING:
      return "running";
    case workerrunner::v1::RUN_STATE_STOPPING:
      return "stopping";
    default:
      return "unknown";
  }
}

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(timestamp));
}

std::string When(const google::protobuf::Timestamp& timestamp, absl::Time now,
                 absl::TimeZone zone) {
  absl::Time time = FromProto(timestamp);
  std::string relative = time <= now ? absl::StrCat(ShortDuration(now - time), " ago")
                                     : absl::StrCat("in ", ShortDuration(time - now));
  return absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", time, zone), " (", relative, ")");
}

}  // namespace

std::string Printable(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    bool c1 = c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
              static_cast<unsigned char>(text[i + 1]) <= 0x9f;
    if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\x%02x", c);
    } else if (c1) {
      out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(text[i + 1]));
      ++i;
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string ShortDuration(absl::Duration duration) {
  int64_t seconds = absl::ToInt64Seconds(duration);
  if (seconds < 0) seconds = -seconds;
  int64_t days = seconds / 86400, hours = seconds / 3600 % 24, minutes = seconds / 60 % 60;
  int64_t secs = seconds % 60;
  if (days > 0) return absl::StrCat(days, "d", hours, "h");
  if (hours > 0) return absl::StrCat(hours, "h", minutes, "m");
  if (minutes > 0) return absl::StrCat(minutes, "m", secs, "s");
  return absl::StrCat(secs, "s");
}

std::string FormatStatusText(const workerrunner::v1::RunnerStatus& status, absl::Time now,
                             absl::TimeZone zone) {
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("state", StateName(status.state()));
  rows.emplace_back("runner version", status.version());
  rows.emplace_back("started", When(status.started_at(), now, zone));
  rows.emplace_back("provider", status.provider_type().empty() ? "-" : status.provider_type());
  if (!status.provider_id().empty()) rows.emplace_back("provider id", status.provider_id());
  if (!status.root_url().empty()) rows.emplace_back("root URL", status.root_url());
  if (!status.worker_pool_id().empty()) rows.emplace_back("worker pool", status.worker_pool_id());
  if (!status.worker_id().empty()) {
    rows.emplace_back("worker", absl::StrCat(status.worker_group(), "/", status.worker_id()));
  }
  if (!status.worker_location().empty()) {
    // Sorted, so the line reads the same every time.
    std::map<std::string, std::string> location(status.worker_location().begin(),
                                                status.worker_location().end());
    rows.emplace_back("location", absl::StrJoin(location, " ", absl::PairFormatter("=")));
  }
  rows.emplace_back("credentials",
                    status.has_credentials_expire()
                        ? absl::StrCat("expire ", When(status.credentials_expire(), now, zone))
                        : "do not expire");

  rows.emplace_back("implementation", status.worker_implementation());
  if (status.worker_pid() > 0) {
    rows.emplace_back("worker process", absl::StrCat("pid ", status.worker_pid()));
  } else if (status.worker_exited()) {
    rows.emplace_back("worker process", absl::StrCat("exited (", status.worker_exit_status(), ")"));
  } else {
    rows.emplace_back("worker process", "not running");
  }
  std::vector<std::string> capabilities(status.capabilities().begin(), status.capabilities().end());
  rows.emplace_back("capabilities", !status.protocol_negotiated() ? "not negotiated yet"
                                    : capabilities.empty()        ? "none"
                                                           : absl::StrJoin(capabilities, ", "));
  if (status.has_interruption()) {
    const auto& interruption = status.interruption();
    std::string text = absl::StrCat(interruption.kind(), " from ", interruption.source());
    if (interruption.has_detected_at()) {
      absl::StrAppend(&text, ", seen ", When(interruption.detected_at(), now, zone));
    }
    if (interruption.has_deadline()) {
      absl::StrAppend(&text, ", deadline ", When(interruption.deadline(), now, zone));
    }
    rows.emplace_back("interruption", text);
  } else {
    rows.emplace_back("interruption", "none");
  }

  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string out;
  for (const auto& [label, value] : rows) {
    absl::StrAppend(&out, label, ":", std::string(width + 2 - label.size(), ' '), Printable(value),
                    "\n");
  }
  return out;
}

std::string FormatStatusJson(const workerrunner::v1::RunnerStatus& status) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(status, &out, options).ok()) return "{}\n";
  return out;
}

}  // namespace runner::runnerctl
