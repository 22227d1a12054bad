#ifndef RUNNER_SERVER_LIFECYCLE_FILES_H_
#define RUNNER_SERVER_LIFECYCLE_FILES_H_

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace runner::lifecycle {

// Writes the run's file entries (worker-config spec §5), in order: `format` `file` (decoded
// content written to `path`, parent directories created 0755) or `zip` (archive unpacked under
// `path`). Every entry is checked before anything is written — format, encoding (only base64),
// the base64 itself, and for archives that every member stays inside its destination — so bad
// input writes nothing. Errors are kInvalidArgument (bad entry) or the file system's code, and
// say "extract file <path>: ..." (and the archive member for zips). Never logs content.
absl::Status ExtractFiles(const nlohmann::json& files);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_FILES_H_
