#include "server/config/runner_config.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

#include "server/common/logger.h"
#include "server/common/status_util.h"
#include "server/config/private_file.h"
#include "server/config/yaml_scalar.h"

namespace runner::config {
namespace {

constexpr absl::string_view kStrTag = "tag:yaml.org,2002:str";
constexpr absl::string_view kBinaryTag = "tag:yaml.org,2002:binary";
constexpr absl::string_view kNullTag = "tag:yaml.org,2002:null";
constexpr absl::string_view kBoolTag = "tag:yaml.org,2002:bool";
// yaml-cpp tags every quoted or block scalar "!" and every untagged plain one "?".
constexpr absl::string_view kNonPlainTag = "!";
constexpr absl::string_view kPlainTag = "?";

// An alias may refer to its own enclosing node, and nested aliases can expand to billions of
// nodes; these limits keep every walk over the tree finite and cheap.
constexpr int kMaxDepth = 512;
constexpr size_t kMaxNodeVisits = 1000000;

// What a scalar node holds, once its tag and style are taken into account.
enum class ValueKind { kNull, kBool, kInt, kFloat, kTimestamp, kString, kBinary };

ValueKind ScalarValueKind(const YAML::Node& node) {
  if (node.IsNull()) return node.Tag() == kStrTag ? ValueKind::kString : ValueKind::kNull;
  const std::string& tag = node.Tag();
  if (tag == kNonPlainTag || tag == kStrTag) return ValueKind::kString;
  if (tag == kBinaryTag) return ValueKind::kBinary;
  if (tag == kNullTag) return ValueKind::kNull;
  switch (ResolvePlainScalar(node.Scalar())) {
    case ScalarKind::kNull:
      return ValueKind::kNull;
    case ScalarKind::kBool:
      return ValueKind::kBool;
    case ScalarKind::kInt:
      return ValueKind::kInt;
    case ScalarKind::kFloat:
      return ValueKind::kFloat;
    case ScalarKind::kTimestamp:
      return ValueKind::kTimestamp;
    case ScalarKind::kString:
      return ValueKind::kString;
  }
  return ValueKind::kString;
}

// The kind of a node for messages; never its value.
std::string Describe(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a sequence";
  switch (ScalarValueKind(node)) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return "a boolean";
    case ValueKind::kInt:
      return "an integer";
    case ValueKind::kFloat:
      return "a float";
    case ValueKind::kTimestamp:
      return "a timestamp";
    case ValueKind::kString:
      return node.Tag() == kNonPlainTag ? "a quoted string" : "a string";
    case ValueKind::kBinary:
      return "binary data";
  }
  return "a scalar";
}

bool IsNullValue(const YAML::Node& node) {
  return !node.IsDefined() ||
         (!node.IsMap() && !node.IsSequence() && ScalarValueKind(node) == ValueKind::kNull);
}

bool IsStringValue(const YAML::Node& node) {
  return (node.IsScalar() || node.IsNull()) && ScalarValueKind(node) == ValueKind::kString;
}

std::string KeyText(const YAML::Node& key) { return common::EscapeForLog(key.Scalar()); }

std::string Join(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

// One key of a mapping together with its value.
struct Entry {
  YAML::Node key;
  YAML::Node value;
};

// Scalar-keyed entries of a mapping whose keys are already known to be unique.
class Mapping {
 public:
  explicit Mapping(const YAML::Node& node) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar()) entries_.emplace(it->first.Scalar(), Entry{it->first, it->second});
    }
  }

  // The entry for `key`, or nullptr when it is absent.
  const Entry* Find(absl::string_view key) const {
    auto it = entries_.find(std::string(key));
    return it == entries_.end() ? nullptr : &it->second;
  }

  // Like Find, but an explicit null value counts as absent.
  const Entry* FindNonNull(absl::string_view key) const {
    const Entry* entry = Find(key);
    return entry == nullptr || IsNullValue(entry->value) ? nullptr : entry;
  }

 private:
  std::map<std::string, Entry> entries_;
};

// Turns the YAML tree of one file into a RunnerConfig. Every error names the file, a 1-based line
// and the key path.
class Parser {
 public:
  explicit Parser(absl::string_view file) : file_(file) {}

  absl::StatusOr<RunnerConfig> Parse(absl::string_view text);

 private:
  absl::Status Error(const YAML::Mark& mark, absl::string_view path, absl::string_view what) const;
  absl::Status Expected(const YAML::Mark& mark, absl::string_view path, absl::string_view expected,
                        const YAML::Node& got) const {
    return Error(mark, path, absl::StrCat("expected ", expected, ", got ", Describe(got)));
  }

  absl::Status CheckTree(const YAML::Node& node, const YAML::Mark& mark, const std::string& path,
                         int depth);
  absl::Status ParseTopLevel(const YAML::Node& root, RunnerConfig* config);
  absl::Status ParseProvider(const Entry* entry, const YAML::Mark& root_mark,
                             ProviderConfig* provider);
  absl::Status ParseWorkerLocation(const Entry& entry, ProviderConfig* provider);
  absl::Status ParseWorker(const Entry* entry, const YAML::Mark& root_mark, WorkerSettings* worker);
  absl::Status ParseLogging(const Entry& entry, LoggingConfig* logging);
  absl::Status ParseApi(const Entry& entry, ApiConfig* api);
  absl::Status ParseShutdown(const Entry& entry, ShutdownConfig* shutdown);
  absl::StatusOr<bool> ParseBool(const Entry& entry, absl::string_view path) const;
  absl::StatusOr<std::string> LiteralText(const Entry& entry, absl::string_view path) const;
  absl::StatusOr<std::string> StrictString(const Entry& entry, absl::string_view path) const;
  absl::StatusOr<nlohmann::json> ToJson(const YAML::Node& node, const YAML::Mark& mark,
                                        const std::string& path) const;
  absl::StatusOr<nlohmann::json> ScalarToJson(const YAML::Node& node, const YAML::Mark& mark,
                                              const std::string& path) const;
  absl::StatusOr<nlohmann::json> MappingToJson(const Entry& entry, const std::string& path) const;

  std::string file_;
  size_t visits_ = 0;
};

absl::Status Parser::Error(const YAML::Mark& mark, absl::string_view path,
                           absl::string_view what) const {
  const int line = mark.is_null() ? 1 : mark.line + 1;
  std::string where = absl::StrCat("runner config ", file_, ": line ", line, ": ");
  if (!path.empty()) absl::StrAppend(&where, path, ": ");
  return absl::InvalidArgumentError(absl::StrCat(where, what));
}

absl::StatusOr<RunnerConfig> Parser::Parse(absl::string_view text) {
  RunnerConfig config;
  config.file = file_;
  // yaml-cpp reports syntax errors, and misuse of its API, by throwing; none of that may leave
  // this module.
  // yaml-cpp passes invalid UTF-8 through; upstream's parser rejects it, and so do we.
  if (std::optional<size_t> bad = FindInvalidUtf8(text)) {
    YAML::Mark mark;
    mark.line = static_cast<int>(std::count(text.begin(), text.begin() + *bad, '\n'));
    return Error(mark, "", "invalid YAML: the file is not valid UTF-8");
  }
  try {
    YAML::Node root = YAML::Load(std::string(text));
    RUNNER_RETURN_IF_ERROR(CheckTree(root, root.Mark(), "", 0));
    RUNNER_RETURN_IF_ERROR(ParseTopLevel(root, &config));
  } catch (const YAML::ParserException& e) {
    return Error(e.mark, "", absl::StrCat("invalid YAML: ", e.msg));
  } catch (const YAML::Exception& e) {
    return Error(e.mark, "", absl::StrCat("unreadable YAML: ", e.msg));
  }
  return config;
}

// yaml-cpp keeps every entry of a mapping with a repeated key, so duplicates are found here, for
// the whole document, before anything is interpreted.
absl::Status Parser::CheckTree(const YAML::Node& node, const YAML::Mark& mark,
                               const std::string& path, int depth) {
  if (depth > kMaxDepth) {
    return Error(mark, path,
                 absl::StrCat("nested more than ", kMaxDepth,
                              " levels deep (or an alias refers to a node that contains it)"));
  }
  if (++visits_ > kMaxNodeVisits) {
    return Error(mark, path,
                 absl::StrCat("more than ", kMaxNodeVisits, " nodes after expanding aliases"));
  }
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      RUNNER_RETURN_IF_ERROR(CheckTree(item, item.Mark().is_null() ? mark : item.Mark(),
                                       absl::StrCat(path, "[", i, "]"), depth + 1));
    }
  } else if (node.IsMap()) {
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string child = it->first.IsScalar() ? Join(path, KeyText(it->first)) : path;
      if (it->first.IsScalar() && !seen.insert(it->first.Scalar()).second) {
        return Error(it->first.Mark(), child, "duplicate key");
      }
      RUNNER_RETURN_IF_ERROR(CheckTree(it->first, it->first.Mark(), child, depth + 1));
      RUNNER_RETURN_IF_ERROR(CheckTree(it->second, it->first.Mark(), child, depth + 1));
    }
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseTopLevel(const YAML::Node& root, RunnerConfig* config) {
  // An empty document is a mapping with every key absent.
  const YAML::Node top = IsNullValue(root) ? YAML::Node(YAML::NodeType::Map) : root;
  if (!top.IsMap()) return Expected(root.Mark(), "top level", "a mapping", root);
  const YAML::Mark root_mark = root.Mark();
  const Mapping keys(top);

  RUNNER_RETURN_IF_ERROR(ParseProvider(keys.Find("provider"), root_mark, &config->provider));
  RUNNER_RETURN_IF_ERROR(ParseWorker(keys.Find("worker"), root_mark, &config->worker));
  if (const Entry* entry = keys.FindNonNull("workerConfig")) {
    RUNNER_ASSIGN_OR_RETURN(config->worker_config, MappingToJson(*entry, "workerConfig"));
  }
  if (const Entry* entry = keys.FindNonNull("logging")) {
    RUNNER_RETURN_IF_ERROR(ParseLogging(*entry, &config->logging));
  }
  if (const Entry* entry = keys.FindNonNull("getSecrets")) {
    RUNNER_ASSIGN_OR_RETURN(config->get_secrets, ParseBool(*entry, "getSecrets"));
  }
  if (const Entry* entry = keys.FindNonNull("cacheOverRestarts")) {
    RUNNER_ASSIGN_OR_RETURN(config->cache_over_restarts, LiteralText(*entry, "cacheOverRestarts"));
    // Upstream accepts this pair on the first boot and then fails on every later one; refusing
    // it at load time reports the mistake before anything has been registered.
    if (config->provider.provider_type == "static" && !config->cache_over_restarts.empty()) {
      return Error(entry->key.Mark(), "cacheOverRestarts",
                   "do not use cacheOverRestarts with static provider");
    }
  }
  if (const Entry* entry = keys.FindNonNull("api")) {
    RUNNER_RETURN_IF_ERROR(ParseApi(*entry, &config->api));
  }
  if (const Entry* entry = keys.FindNonNull("shutdown")) {
    RUNNER_RETURN_IF_ERROR(ParseShutdown(*entry, &config->shutdown));
  }
  return absl::OkStatus();
}

// The string keys each provider type requires, with the field each one fills.
struct ProviderKey {
  absl::string_view name;
  std::string ProviderConfig::*field;
};

const std::vector<ProviderKey>* RequiredProviderKeys(absl::string_view provider_type) {
  static const auto* const kNone = new std::vector<ProviderKey>();
  static const auto* const kStatic = new std::vector<ProviderKey>{
      {"rootURL", &ProviderConfig::root_url},
      {"providerID", &ProviderConfig::provider_id},
      {"workerPoolID", &ProviderConfig::worker_pool_id},
      {"workerGroup", &ProviderConfig::worker_group},
      {"workerID", &ProviderConfig::worker_id},
      {"staticSecret", &ProviderConfig::static_secret},
  };
  static const auto* const kStandalone = new std::vector<ProviderKey>{
      {"rootURL", &ProviderConfig::root_url},
      {"clientID", &ProviderConfig::client_id},
      {"accessToken", &ProviderConfig::access_token},
      {"workerPoolID", &ProviderConfig::worker_pool_id},
      {"workerGroup", &ProviderConfig::worker_group},
      {"workerID", &ProviderConfig::worker_id},
  };
  if (provider_type == "aws" || provider_type == "azure" || provider_type == "google") {
    return kNone;
  }
  if (provider_type == "static") return kStatic;
  if (provider_type == "standalone") return kStandalone;
  return nullptr;
}

absl::Status Parser::ParseProvider(const Entry* entry, const YAML::Mark& root_mark,
                                   ProviderConfig* provider) {
  if (entry == nullptr || IsNullValue(entry->value)) {
    return Error(entry == nullptr ? root_mark : entry->key.Mark(), "provider", "no provider given");
  }
  const YAML::Mark& mark = entry->key.Mark();
  if (!entry->value.IsMap()) return Expected(mark, "provider", "a mapping", entry->value);
  const Mapping keys(entry->value);

  const Entry* type = keys.Find("providerType");
  if (type == nullptr) return Error(mark, "provider", "must have a providerType");
  if (!IsStringValue(type->value)) {
    return Error(type->key.Mark(), "provider.providerType",
                 absl::StrCat("must be a string, got ", Describe(type->value)));
  }
  provider->provider_type = type->value.Scalar();
  const std::vector<ProviderKey>* required = RequiredProviderKeys(provider->provider_type);
  if (required == nullptr) {
    return Error(type->key.Mark(), "provider.providerType", "unrecognized provider type");
  }

  for (const ProviderKey& key : *required) {
    const std::string path = absl::StrCat("provider.", key.name);
    const Entry* value = keys.Find(key.name);
    if (value == nullptr) {
      return Error(mark, path,
                   absl::StrCat("missing; the ", provider->provider_type, " provider requires it"));
    }
    RUNNER_ASSIGN_OR_RETURN(provider->*key.field, StrictString(*value, path));
  }
  while (!provider->root_url.empty() && provider->root_url.back() == '/') {
    provider->root_url.pop_back();
  }
  // Only static and standalone take a rootURL from the file; the clouds ignore the key.
  const Entry* root = required->empty() ? nullptr : keys.Find("rootURL");
  if (root != nullptr) {
    absl::string_view url = provider->root_url;
    bool http = absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
    if (!http || url == "http:/" || url == "https:/") {
      return Error(root->key.Mark(), "provider.rootURL", "expected an http:// or https:// URL");
    }
  }

  // Only the providers configured entirely from the file take a location and metadata.
  if (required->empty()) return absl::OkStatus();
  if (const Entry* location = keys.FindNonNull("workerLocation")) {
    RUNNER_RETURN_IF_ERROR(ParseWorkerLocation(*location, provider));
  }
  if (const Entry* metadata = keys.FindNonNull("providerMetadata")) {
    RUNNER_ASSIGN_OR_RETURN(provider->provider_metadata,
                            MappingToJson(*metadata, "provider.providerMetadata"));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseWorkerLocation(const Entry& entry, ProviderConfig* provider) {
  const std::string path = "provider.workerLocation";
  if (!entry.value.IsMap()) return Expected(entry.key.Mark(), path, "a mapping", entry.value);
  for (auto it = entry.value.begin(); it != entry.value.end(); ++it) {
    if (!it->first.IsScalar()) return Expected(entry.key.Mark(), path, "string keys", it->first);
    const std::string key = KeyText(it->first);
    if (!IsStringValue(it->second)) {
      return Error(it->first.Mark(), Join(path, key),
                   absl::StrCat("workerLocation value ", key, " is not a string, got ",
                                Describe(it->second)));
    }
    provider->worker_location[it->first.Scalar()] = it->second.Scalar();
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseWorker(const Entry* entry, const YAML::Mark& root_mark,
                                 WorkerSettings* worker) {
  if (entry == nullptr || IsNullValue(entry->value)) {
    return Error(entry == nullptr ? root_mark : entry->key.Mark(), "worker",
                 "no worker implementation given");
  }
  const YAML::Mark& mark = entry->key.Mark();
  if (!entry->value.IsMap()) return Expected(mark, "worker", "a mapping", entry->value);
  const Mapping keys(entry->value);

  const Entry* implementation = keys.FindNonNull("implementation");
  if (implementation == nullptr) {
    return Error(mark, "worker.implementation", "no worker implementation given");
  }
  if (!IsStringValue(implementation->value)) {
    return Error(implementation->key.Mark(), "worker.implementation",
                 absl::StrCat("must be a string, got ", Describe(implementation->value)));
  }
  worker->implementation = implementation->value.Scalar();
  if (worker->implementation.empty()) {
    return Error(implementation->key.Mark(), "worker.implementation",
                 "no worker implementation given");
  }
  // external: the worker attaches over the worker channel; it has no keys of its own.
  if (worker->implementation == "dummy" || worker->implementation == "external") {
    return absl::OkStatus();
  }
  if (worker->implementation != "generic-worker") {
    return Error(implementation->key.Mark(), "worker.implementation",
                 "unrecognized worker implementation");
  }

  const Entry* config_path = keys.Find("configPath");
  if (config_path == nullptr) {
    return Error(mark, "worker.configPath", "missing; generic-worker requires it");
  }
  RUNNER_ASSIGN_OR_RETURN(worker->config_path, StrictString(*config_path, "worker.configPath"));
  if (worker->config_path.empty()) {
    return Error(config_path->key.Mark(), "worker.configPath", "must not be empty");
  }
  const std::pair<absl::string_view, std::string WorkerSettings::*> optional_keys[] = {
      {"path", &WorkerSettings::path},
      {"service", &WorkerSettings::service},
      {"protocolPipe", &WorkerSettings::protocol_pipe},
  };
  for (const auto& [name, field] : optional_keys) {
    if (const Entry* value = keys.Find(name)) {
      RUNNER_ASSIGN_OR_RETURN(worker->*field, StrictString(*value, absl::StrCat("worker.", name)));
    }
  }

  if (worker->path.empty() == worker->service.empty()) {
    return Error(mark, "worker",
                 absl::StrCat("exactly one of worker.path and worker.service must be given, got ",
                              worker->path.empty() ? "neither" : "both"));
  }
#ifdef _WIN32
  if (!worker->service.empty() && worker->protocol_pipe.empty()) {
    worker->protocol_pipe = R"(\\.\pipe\generic-worker)";
  }
#else
  if (!worker->service.empty()) {
    return Error(keys.Find("service")->key.Mark(), "worker.service", "only supported on Windows");
  }
#endif
  return absl::OkStatus();
}

absl::Status Parser::ParseLogging(const Entry& entry, LoggingConfig* logging) {
  if (!entry.value.IsMap()) return Expected(entry.key.Mark(), "logging", "a mapping", entry.value);
  const Mapping keys(entry.value);
  const Entry* implementation = keys.Find("implementation");
  if (implementation == nullptr) {
    return Error(entry.key.Mark(), "logging", "must have an implementation");
  }
  if (!IsStringValue(implementation->value)) {
    return Error(implementation->key.Mark(), "logging.implementation",
                 absl::StrCat("must be a string, got ", Describe(implementation->value)));
  }
  // Upstream treats an unknown destination as a reason to warn, not to stop.
  if (implementation->value.Scalar() != "stdio") {
    common::LogWarning("config", "unrecognized logging implementation, using stdio",
                       {{"file", file_}, {"line", implementation->key.Mark().line + 1}});
  }
  logging->implementation = "stdio";
  return absl::OkStatus();
}

absl::Status Parser::ParseApi(const Entry& entry, ApiConfig* api) {
  if (!entry.value.IsMap()) return Expected(entry.key.Mark(), "api", "a mapping", entry.value);
  const Mapping keys(entry.value);
  if (const Entry* socket = keys.FindNonNull("socket")) {
    RUNNER_ASSIGN_OR_RETURN(api->socket, LiteralText(*socket, "api.socket"));
    if (api->socket.empty()) return Error(socket->key.Mark(), "api.socket", "must not be empty");
    // runnerctl and worker-bridge must find it from any directory.
    if (api->socket[0] != '/') {
      return Error(socket->key.Mark(), "api.socket", "must be an absolute path");
    }
  }
  if (const Entry* group = keys.FindNonNull("group")) {
    RUNNER_ASSIGN_OR_RETURN(api->group, LiteralText(*group, "api.group"));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseShutdown(const Entry& entry, ShutdownConfig* shutdown) {
  if (!entry.value.IsMap()) return Expected(entry.key.Mark(), "shutdown", "a mapping", entry.value);
  const Mapping keys(entry.value);
  if (const Entry* grace = keys.FindNonNull("gracePeriod")) {
    const std::string grace_path = "shutdown.gracePeriod";
    const YAML::Mark& grace_mark = grace->key.Mark();
    const char* expected = "a duration such as 30s, 5m or 1h30m, or a whole number of seconds";
    if (!grace->value.IsScalar()) return Expected(grace_mark, grace_path, expected, grace->value);
    if (absl::StartsWith(grace->value.Scalar(), "-")) {
      return Error(grace_mark, grace_path, "must not be negative");
    }
    std::optional<absl::Duration> parsed = ParseGracePeriod(grace->value.Scalar());
    if (!parsed.has_value()) return Expected(grace_mark, grace_path, expected, grace->value);
    if (*parsed > absl::Hours(24)) {
      return Error(grace_mark, grace_path, "must not be longer than 24h");
    }
    shutdown->grace_period = *parsed;
  }
  const Entry* command = keys.FindNonNull("command");
  if (command == nullptr) return absl::OkStatus();

  const std::string path = "shutdown.command";
  const YAML::Mark& mark = command->key.Mark();
  if (!command->value.IsSequence()) {
    return Expected(mark, path, "a list of strings", command->value);
  }
  if (command->value.size() == 0) return Error(mark, path, "must not be empty");
  std::vector<std::string> argv;
  for (size_t i = 0; i < command->value.size(); ++i) {
    const YAML::Node item = command->value[i];
    const YAML::Mark item_mark = item.Mark().is_null() ? mark : item.Mark();
    const std::string item_path = absl::StrCat(path, "[", i, "]");
    if (!item.IsScalar() || IsNullValue(item)) {
      return Expected(item_mark, item_path, "a string", item);
    }
    argv.push_back(item.Scalar());
  }
  if (argv[0].empty()) return Error(mark, absl::StrCat(path, "[0]"), "must not be empty");
  shutdown->command = std::move(argv);
  return absl::OkStatus();
}

absl::StatusOr<bool> Parser::ParseBool(const Entry& entry, absl::string_view path) const {
  // Quoted "true" is a string, and 1/0 are numbers: neither is accepted for a boolean.
  if (entry.value.IsScalar() && (entry.value.Tag() == kPlainTag || entry.value.Tag() == kBoolTag)) {
    if (std::optional<bool> value = ParseBoolWord(entry.value.Scalar())) return *value;
  }
  return Expected(entry.key.Mark(), path, "a boolean", entry.value);
}

absl::StatusOr<std::string> Parser::LiteralText(const Entry& entry, absl::string_view path) const {
  if (!entry.value.IsScalar()) return Expected(entry.key.Mark(), path, "a string", entry.value);
  return entry.value.Scalar();
}

absl::StatusOr<std::string> Parser::StrictString(const Entry& entry, absl::string_view path) const {
  if (!IsStringValue(entry.value)) return Expected(entry.key.Mark(), path, "a string", entry.value);
  return entry.value.Scalar();
}

absl::StatusOr<nlohmann::json> Parser::MappingToJson(const Entry& entry,
                                                     const std::string& path) const {
  if (!entry.value.IsMap()) return Expected(entry.key.Mark(), path, "a mapping", entry.value);
  return ToJson(entry.value, entry.key.Mark(), path);
}

// CheckTree has already bounded the depth and size of the tree and rejected duplicate keys.
absl::StatusOr<nlohmann::json> Parser::ToJson(const YAML::Node& node, const YAML::Mark& mark,
                                              const std::string& path) const {
  if (node.IsSequence()) {
    nlohmann::json array = nlohmann::json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      RUNNER_ASSIGN_OR_RETURN(nlohmann::json value,
                              ToJson(item, item.Mark().is_null() ? mark : item.Mark(),
                                     absl::StrCat(path, "[", i, "]")));
      array.push_back(std::move(value));
    }
    return array;
  }
  if (node.IsMap()) {
    nlohmann::json object = nlohmann::json::object();
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar() || IsNullValue(it->first)) {
        return Error(it->first.Mark().is_null() ? mark : it->first.Mark(), path,
                     absl::StrCat("keys must be strings, got a key that is ", Describe(it->first)));
      }
      const std::string child = Join(path, KeyText(it->first));
      RUNNER_ASSIGN_OR_RETURN(nlohmann::json value, ToJson(it->second, it->first.Mark(), child));
      object[ToValidUtf8(it->first.Scalar())] = std::move(value);
    }
    return object;
  }
  return ScalarToJson(node, mark, path);
}

absl::StatusOr<nlohmann::json> Parser::ScalarToJson(const YAML::Node& node, const YAML::Mark& mark,
                                                    const std::string& path) const {
  const std::string text = node.IsNull() ? std::string() : node.Scalar();
  switch (ScalarValueKind(node)) {
    case ValueKind::kNull:
      return nullptr;
    case ValueKind::kBool:
      return *ParseCoreBool(text);
    case ValueKind::kInt: {
      // Kept as integers: generic-worker refuses 10.0 where it expects an integer.
      const YamlInteger value = *ParseYamlInteger(text);
      if (value.is_unsigned) return nlohmann::json(value.unsigned_value);
      return nlohmann::json(value.signed_value);
    }
    case ValueKind::kFloat: {
      const double value = *ParseYamlFloat(text);
      if (!std::isfinite(value)) {
        return Error(mark, path, "infinity and NaN cannot be represented in JSON");
      }
      return value;
    }
    case ValueKind::kTimestamp:
      return *TimestampToRfc3339(text);
    case ValueKind::kBinary: {
      std::optional<std::string> bytes = DecodeBase64(text);
      if (!bytes) return Error(mark, path, "!!binary value is not valid base64");
      return ToValidUtf8(*bytes);
    }
    case ValueKind::kString:
      return ToValidUtf8(text);
  }
  return ToValidUtf8(text);
}

}  // namespace

std::optional<absl::Duration> ParseGracePeriod(absl::string_view text) {
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (text.size() > 6) return std::nullopt;  // more than 11 days: surely a mistake
    int seconds = 0;
    for (char c : text) seconds = seconds * 10 + (c - '0');
    return absl::Seconds(seconds);
  }
  absl::Duration duration;
  // absl also accepts a bare "0" and "inf"; the first is handled above, the second refused here.
  if (!absl::ParseDuration(text, &duration)) return std::nullopt;
  if (duration < absl::ZeroDuration() || duration == absl::InfiniteDuration()) return std::nullopt;
  return duration;
}

absl::StatusOr<RunnerConfig> LoadRunnerConfig(const std::string& path) {
  RUNNER_ASSIGN_OR_RETURN(PrivateFileContents contents, ReadPrivateFile(path, "runner config"));
  return ParseRunnerConfig(contents.data, path);
}

absl::StatusOr<RunnerConfig> ParseRunnerConfig(absl::string_view text, absl::string_view file) {
  return Parser(file).Parse(text);
}

}  // namespace runner::config
