#ifndef RUNNER_SERVER_COMMON_LOG_RECORD_H_
#define RUNNER_SERVER_COMMON_LOG_RECORD_H_

#include <string>

#include "nlohmann/json.hpp"

namespace runner::common {

// Renders a structured log record (a worker's `log` body) as one text message, as upstream's stdio
// destination does: a string `textPayload` first, then the other members sorted by name as
// `name: value` (strings bare, everything else compact JSON), joined by "; ". An empty result is
// written `{}`. A record that is not an object is rendered as compact JSON.
std::string FormatLogRecord(const nlohmann::json& record);

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_LOG_RECORD_H_
