#ifndef RUNNER_SERVER_LIFECYCLE_STATE_CACHE_H_
#define RUNNER_SERVER_LIFECYCLE_STATE_CACHE_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "server/providers/run_state.h"

namespace runner::lifecycle {

// The `cacheOverRestarts` file: the run state a rebooting worker resumes with. The layout is the
// upstream one (a JSON object with Go field names: RootURL, Credentials, CredentialsExpire,
// RegistrationSecret, WorkerPoolID, WorkerGroup, WorkerID, ProviderID, ProviderMetadata,
// WorkerConfig, Files, WorkerLocation) plus our own "CacheVersion", so either program can resume
// from the other's file.

// The file's text for `state`.
std::string RenderStateCache(const providers::RunState& state);

// Parses the file's text; `file` names it in messages. kInvalidArgument for text that is not a
// JSON object or a field of the wrong type. Never puts values in messages.
absl::StatusOr<providers::RunState> ParseStateCache(absl::string_view text, absl::string_view file);

// Writes `state` to `path` atomically (a temporary file in the same directory, created 0600,
// fsynced, renamed over `path`). Blocks on file I/O.
absl::Status WriteStateCache(const std::string& path, const providers::RunState& state);

// Reads the cache at `path`: nullopt when there is none (a fresh run). A file that is not a
// regular file owned by the current user with no group/other permission bits is
// kFailedPrecondition; broken content kInvalidArgument; cached credentials that expired at or
// before `now` kFailedPrecondition saying so. Every message names the file.
absl::StatusOr<std::optional<providers::RunState>> LoadStateCache(const std::string& path,
                                                                  absl::Time now);

}  // namespace runner::lifecycle

#endif  // RUNNER_SERVER_LIFECYCLE_STATE_CACHE_H_
