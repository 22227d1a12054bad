#include "server/lifecycle/state_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"

#include "server/common/errno_status.h"
#include "server/common/files.h"
#include "server/common/status_util.h"
#include "server/taskcluster/worker_manager.h"

namespace runner::lifecycle {
namespace {

using nlohmann::json;

constexpr int kCacheVersion = 1;
// Go's zero time, which upstream writes for "no expiry".
constexpr char kZeroTime[] = "0001-01-01T00:00:00.000Z";
constexpr size_t kMaxCacheSize = 16 * 1024 * 1024;

class FieldReader {
 public:
  FieldReader(const json& object, absl::string_view file) : object_(object), file_(file) {}

  absl::Status Error(absl::string_view field, absl::string_view expected) const {
    return absl::InvalidArgumentError(
        absl::StrCat("cacheOverRestarts file ", file_, ": field ", field, ": expected ", expected));
  }

  // A string field; absent or null reads as "".
  absl::Status String(const json& object, absl::string_view field, absl::string_view path,
                      std::string* out) const {
    auto it = object.find(std::string(field));
    if (it == object.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_string()) return Error(path, "a string");
    *out = it->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status String(absl::string_view field, std::string* out) const {
    return String(object_, field, field, out);
  }

  // An object field; absent or null reads as {}.
  absl::Status Object(absl::string_view field, json* out) const {
    auto it = object_.find(std::string(field));
    if (it == object_.end() || it->is_null()) {
      *out = json::object();
      return absl::OkStatus();
    }
    if (!it->is_object()) return Error(field, "an object");
    *out = *it;
    return absl::OkStatus();
  }

  const json& object() const { return object_; }

 private:
  const json& object_;
  absl::string_view file_;
};

}  // namespace

std::string RenderStateCache(const providers::RunState& state) {
  json credentials = {{"clientId", state.credentials.client_id},
                      {"accessToken", state.credentials.access_token},
                      {"certificate", state.credentials.certificate}};
  credentials["authorizedScopes"] = state.credentials.authorized_scopes.empty()
                                        ? json(nullptr)
                                        : json(state.credentials.authorized_scopes);
  json cache = {
      {"CacheVersion", kCacheVersion},
      {"RootURL", state.root_url},
      {"Credentials", std::move(credentials)},
      {"CredentialsExpire", state.credentials_expire.has_value()
                                ? taskcluster::FormatTaskclusterTime(*state.credentials_expire)
                                : std::string(kZeroTime)},
      {"RegistrationSecret", state.registration_secret},
      {"WorkerPoolID", state.worker_pool_id},
      {"WorkerGroup", state.worker_group},
      {"WorkerID", state.worker_id},
      {"ProviderID", state.provider_id},
      {"ProviderMetadata", state.provider_metadata},
      {"WorkerConfig", state.worker_config},
      {"Files", state.files},
      {"WorkerLocation", state.LocationJson()},
  };
  return cache.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

absl::StatusOr<providers::RunState> ParseStateCache(absl::string_view text,
                                                    absl::string_view file) {
  json parsed = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cacheOverRestarts file ", file, ": not valid JSON"));
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cacheOverRestarts file ", file, ": expected a JSON object"));
  }
  FieldReader reader(parsed, file);
  auto version = parsed.find("CacheVersion");
  if (version != parsed.end() && !version->is_null()) {
    if (!version->is_number_integer()) return reader.Error("CacheVersion", "an integer");
    if (version->get<int64_t>() > kCacheVersion) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cacheOverRestarts file ", file, ": written by a newer version (CacheVersion ",
          version->get<int64_t>(), ", this program reads up to ", kCacheVersion, ")"));
    }
  }

  providers::RunState state;
  RUNNER_RETURN_IF_ERROR(reader.String("RootURL", &state.root_url));
  RUNNER_RETURN_IF_ERROR(reader.String("RegistrationSecret", &state.registration_secret));
  RUNNER_RETURN_IF_ERROR(reader.String("WorkerPoolID", &state.worker_pool_id));
  RUNNER_RETURN_IF_ERROR(reader.String("WorkerGroup", &state.worker_group));
  RUNNER_RETURN_IF_ERROR(reader.String("WorkerID", &state.worker_id));
  RUNNER_RETURN_IF_ERROR(reader.String("ProviderID", &state.provider_id));

  json credentials;
  RUNNER_RETURN_IF_ERROR(reader.Object("Credentials", &credentials));
  RUNNER_RETURN_IF_ERROR(
      reader.String(credentials, "clientId", "Credentials.clientId", &state.credentials.client_id));
  RUNNER_RETURN_IF_ERROR(reader.String(credentials, "accessToken", "Credentials.accessToken",
                                       &state.credentials.access_token));
  RUNNER_RETURN_IF_ERROR(reader.String(credentials, "certificate", "Credentials.certificate",
                                       &state.credentials.certificate));
  auto scopes = credentials.find("authorizedScopes");
  if (scopes != credentials.end() && !scopes->is_null()) {
    if (!scopes->is_array()) return reader.Error("Credentials.authorizedScopes", "a list");
    for (const json& scope : *scopes) {
      if (!scope.is_string()) return reader.Error("Credentials.authorizedScopes", "strings");
      state.credentials.authorized_scopes.push_back(scope.get<std::string>());
    }
  }

  std::string expire;
  RUNNER_RETURN_IF_ERROR(reader.String("CredentialsExpire", &expire));
  if (!expire.empty() && expire.rfind("0001-01-01T", 0) != 0) {
    absl::StatusOr<absl::Time> time = taskcluster::ParseTaskclusterTime(expire);
    if (!time.ok()) return reader.Error("CredentialsExpire", "an RFC 3339 time");
    state.credentials_expire = *time;
  }

  RUNNER_RETURN_IF_ERROR(reader.Object("ProviderMetadata", &state.provider_metadata));
  RUNNER_RETURN_IF_ERROR(reader.Object("WorkerConfig", &state.worker_config));
  auto files = parsed.find("Files");
  if (files == parsed.end() || files->is_null()) {
    state.files = json::array();
  } else if (files->is_array()) {
    state.files = *files;
  } else {
    return reader.Error("Files", "a list or null");
  }

  json location;
  RUNNER_RETURN_IF_ERROR(reader.Object("WorkerLocation", &location));
  for (const auto& [key, value] : location.items()) {
    if (!value.is_string()) return reader.Error(absl::StrCat("WorkerLocation.", key), "a string");
    state.worker_location[key] = value.get<std::string>();
  }
  return state;
}

absl::Status WriteStateCache(const std::string& path, const providers::RunState& state) {
  return common::Annotate(common::WritePrivateFileAtomically(path, RenderStateCache(state)),
                          absl::StrCat("write cacheOverRestarts file ", path));
}

absl::StatusOr<std::optional<providers::RunState>> LoadStateCache(const std::string& path,
                                                                  absl::Time now) {
  const std::string what = absl::StrCat("cacheOverRestarts file ", path);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<providers::RunState>();
    if (errno == ELOOP) {
      return absl::FailedPreconditionError(absl::StrCat(what, ": is a symbolic link; refusing it"));
    }
    return common::ErrnoToStatus(errno, absl::StrCat("read ", what));
  }
  struct stat info;
  if (fstat(fd, &info) != 0) {
    int err = errno;
    close(fd);
    return common::ErrnoToStatus(err, absl::StrCat("read ", what));
  }
  std::string problem;
  if (!S_ISREG(info.st_mode)) {
    problem = "is not a regular file";
  } else if (info.st_uid != geteuid()) {
    problem = "is owned by another user";
  } else if ((info.st_mode & 077) != 0 || (info.st_mode & S_IRUSR) == 0) {
    char mode[8];
    snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(info.st_mode & 07777));
    problem = absl::StrCat("has mode ", mode,
                           "; it holds credentials and must be readable by its owner only (0600)");
  } else if (static_cast<size_t>(info.st_size) > kMaxCacheSize) {
    problem = "is too large";
  }
  if (!problem.empty()) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(what, " ", problem));
  }
  std::string text;
  char buffer[65536];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      return common::ErrnoToStatus(err, absl::StrCat("read ", what));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxCacheSize) break;
  }
  close(fd);
  RUNNER_ASSIGN_OR_RETURN(providers::RunState state, ParseStateCache(text, path));
  if (state.credentials_expire.has_value() && *state.credentials_expire <= now) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": the cached credentials expired at ",
        taskcluster::FormatTaskclusterTime(*state.credentials_expire),
        "; the worker cannot resume (remove the file only if this host must become a new worker)"));
  }
  return std::optional<providers::RunState>(std::move(state));
}

}  // namespace runner::lifecycle
