#include "server/common/json_merge.h"

namespace runner::common {

nlohmann::json MergeJson(const nlohmann::json& low, const nlohmann::json& high) {
  if (low.is_object() && high.is_object()) {
    nlohmann::json merged = low;
    for (const auto& [key, value] : high.items()) {
      auto existing = merged.find(key);
      merged[key] = existing == merged.end() ? value : MergeJson(*existing, value);
    }
    return merged;
  }
  if (low.is_array() && high.is_array()) {
    nlohmann::json merged = low;
    for (const auto& value : high) merged.push_back(value);
    return merged;
  }
  return high;
}

}  // namespace runner::common
