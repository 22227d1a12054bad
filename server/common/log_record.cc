#include "server/common/log_record.h"

#include <vector>

#include "absl/strings/str_join.h"

namespace runner::common {

std::string FormatLogRecord(const nlohmann::json& record) {
  if (!record.is_object()) {
    return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  std::vector<std::string> pieces;
  auto payload = record.find("textPayload");
  bool payload_is_text = payload != record.end() && payload->is_string();
  if (payload_is_text && !payload->get_ref<const std::string&>().empty()) {
    pieces.push_back(payload->get<std::string>());
  }

  // nlohmann's object keeps its members sorted by byte order, which is the order we need.
  for (const auto& [name, value] : record.items()) {
    if (payload_is_text && name == "textPayload") continue;
    std::string rendered =
        value.is_string() ? value.get<std::string>()
                          : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    pieces.push_back(name + ": " + rendered);
  }

  if (pieces.empty()) return "{}";
  return absl::StrJoin(pieces, "; ");
}

}  // namespace runner::common
