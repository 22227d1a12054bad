#ifndef RUNNER_SERVER_COMMON_JSON_MERGE_H_
#define RUNNER_SERVER_COMMON_JSON_MERGE_H_

#include "nlohmann/json.hpp"

namespace runner::common {

// Deep merge of worker configuration: `high` over `low`. Two objects merge key by key
// (recursively), two arrays concatenate (low then high), anything else is replaced by `high`
// (a null in `high` stores null). Neither input is modified.
nlohmann::json MergeJson(const nlohmann::json& low, const nlohmann::json& high);

}  // namespace runner::common

#endif  // RUNNER_SERVER_COMMON_JSON_MERGE_H_
