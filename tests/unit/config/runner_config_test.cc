#include "server/config/runner_config.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "server/common/logger.h"

namespace runner::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kFile[] = "/etc/w.yaml";

// Valid pieces to build configs that are wrong in one place only; each is one line.
constexpr char kAws[] = "provider: {providerType: aws}\n";
constexpr char kDummy[] = "worker: {implementation: dummy}\n";

absl::StatusOr<RunnerConfig> Parse(absl::string_view text) {
  return ParseRunnerConfig(text, kFile);
}

// The spec's static example, line by line.
constexpr char kStaticExample[] = R"(provider:
  providerType: static
  rootURL: https://tc.example.com
  providerID: hw-static
  workerPoolID: proj-hw/mac-mini
  workerGroup: datacenter-1
  workerID: "0042"
  staticSecret: AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdef
  workerLocation: {rack: r12}
  providerMetadata: {owner: ops@example.com}
worker:
  implementation: generic-worker
  path: /usr/local/bin/generic-worker
  configPath: /etc/generic-worker/config.json
)";

// The spec's standalone example.
constexpr char kStandaloneExample[] = R"(provider:
  providerType: standalone
  rootURL: https://tc.example.com/
  clientID: project/ci/standalone-1
  accessToken: REDACTED-ACCESS-TOKEN
  workerPoolID: proj-ci/linux
  workerGroup: office
  workerID: desk-7
worker: {implementation: dummy}
getSecrets: false
logging: {implementation: stdio}
)";

// ---------------------------------------------------------------------------------------------
// Errors

struct ErrorCase {
  std::string name;
  std::string yaml;
  int line;          // -1: any line (the node where a limit is reached is arbitrary)
  std::string path;  // "" when the message names no key
  std::string what;
  std::string secret = "";  // text that must not appear in the message
};

void ExpectError(const ErrorCase& c) {
  SCOPED_TRACE(c.name);
  absl::StatusOr<RunnerConfig> config = Parse(c.yaml);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(config.status().message());
  const std::string prefix = c.line < 0
                                 ? absl::StrCat("runner config ", kFile, ": line ")
                                 : absl::StrCat("runner config ", kFile, ": line ", c.line, ": ");
  EXPECT_THAT(message, HasSubstr(prefix));
  if (!c.path.empty()) {
    EXPECT_THAT(message, HasSubstr(absl::StrCat(prefix, c.path, ": ")));
  }
  EXPECT_THAT(message, HasSubstr(c.what));
  if (!c.secret.empty()) {
    EXPECT_THAT(message, Not(HasSubstr(c.secret)));
  }
}

// `levels` nested flow sequences.
std::string Nested(int levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(RunnerConfigTest, RejectsBadDocumentsWithFileLineAndPath) {
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'h'; ++level) {
    std::string previous = std::string("*") + static_cast<char>(level - 1);
    absl::StrAppend(&laughs, std::string(1, level), ": &", std::string(1, level), " [", previous);
    for (int i = 0; i < 9; ++i) absl::StrAppend(&laughs, ", ", previous);
    absl::StrAppend(&laughs, "]\n");
  }
  const std::vector<ErrorCase> cases = {
      {"syntax error", "provider:\n  providerType: [aws\nworker: x\n", 3, "", "invalid YAML: "},
      {"bad indentation", "provider: a\n b: c\n", 2, "", "invalid YAML: "},
      {"invalid UTF-8", absl::StrCat(kAws, kDummy, "workerConfig: {a: \"x\xFF\"}\n"), 3, "",
       "invalid YAML: the file is not valid UTF-8"},
      {"top level is a sequence", "- provider\n- worker\n", 1, "top level",
       "expected a mapping, got a sequence"},
      {"top level is a scalar", "just text\n", 1, "top level", "expected a mapping, got a string"},
      {"empty file", "", 1, "provider", "no provider given"},
      {"only comments", "# nothing here\n", 1, "provider", "no provider given"},
      {"no provider", kDummy, 1, "provider", "no provider given"},
      {"null provider", absl::StrCat(kDummy, "provider:\n"), 2, "provider", "no provider given"},
      {"duplicate top-level key", absl::StrCat(kAws, kDummy, "provider: {providerType: google}\n"),
       3, "provider", "duplicate key"},
      {"duplicate key in flow mapping", "provider: {providerType: aws, providerType: google}\n", 1,
       "provider.providerType", "duplicate key"},
      {"duplicate nested key",
       absl::StrCat(kAws, kDummy, "workerConfig:\n  a:\n    b: 1\n    b: 2\n"), 6,
       "workerConfig.a.b", "duplicate key"},
      {"duplicate key under an ignored key", absl::StrCat(kAws, kDummy, "extra: {x: 1, x: 2}\n"), 3,
       "extra.x", "duplicate key"},
      {"alias inside itself", absl::StrCat(kAws, kDummy, "workerConfig: {a: &s [1, *s]}\n"), 3, "",
       "levels deep (or an alias refers to a node that contains it)"},
      {"nesting too deep for the parser", absl::StrCat(kAws, kDummy, "x: ", Nested(600), "\n"), 3,
       "", "invalid YAML: "},
      {"alias explosion", absl::StrCat(kAws, kDummy, laughs), -1, "",
       "nodes after expanding aliases"},
  };
  for (const ErrorCase& c : cases) ExpectError(c);
}

TEST(RunnerConfigTest, RejectsBadProviderSections) {
  const std::string worker = kDummy;
  const std::vector<ErrorCase> cases = {
      {"provider is a string", "provider: aws\n" + worker, 1, "provider",
       "expected a mapping, got a string"},
      {"provider is a sequence", "provider: [aws]\n" + worker, 1, "provider",
       "expected a mapping, got a sequence"},
      {"no providerType", "provider:\n  rootURL: https://x\n" + worker, 1, "provider",
       "must have a providerType"},
      {"providerType is lower-cased", "provider:\n  providertype: aws\n" + worker, 1, "provider",
       "must have a providerType"},
      {"providerType is a boolean", "provider:\n  providerType: false\n" + worker, 2,
       "provider.providerType", "must be a string, got a boolean"},
      {"providerType is null", "provider:\n  providerType:\n" + worker, 2, "provider.providerType",
       "must be a string, got null"},
      {"providerType is a number", "provider:\n  providerType: 12\n" + worker, 2,
       "provider.providerType", "must be a string, got an integer"},
      {"unknown providerType", "provider:\n  providerType: ec2\n" + worker, 2,
       "provider.providerType", "unrecognized provider type", "ec2"},
  };
  for (const ErrorCase& c : cases) ExpectError(c);
}

// `text` with its 1-based line `line` replaced.
std::string WithLine(absl::string_view text, int line, absl::string_view replacement) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  lines[line - 1] = std::string(replacement);
  return absl::StrJoin(lines, "\n");
}

std::string StaticWithLine(int line, absl::string_view replacement) {
  return WithLine(kStaticExample, line, replacement);
}

TEST(RunnerConfigTest, RejectsMissingRequiredProviderKeys) {
  const std::vector<std::string> static_keys = {"rootURL",     "providerID", "workerPoolID",
                                                "workerGroup", "workerID",   "staticSecret"};
  for (int i = 0; i < 6; ++i) {
    ExpectError({absl::StrCat("static without ", static_keys[i]),
                 StaticWithLine(3 + i, "  unrelated: x"), 1, "provider." + static_keys[i],
                 "missing; the static provider requires it"});
  }
  const std::vector<std::string> standalone_keys = {"rootURL",      "clientID",    "accessToken",
                                                    "workerPoolID", "workerGroup", "workerID"};
  for (int i = 0; i < 6; ++i) {
    std::vector<std::string> lines = absl::StrSplit(kStandaloneExample, '\n');
    lines[2 + i] = "  rooturl: wrong-case";
    ExpectError({absl::StrCat("standalone without ", standalone_keys[i]),
                 absl::StrJoin(lines, "\n"), 1, "provider." + standalone_keys[i],
                 "missing; the standalone provider requires it"});
  }
}

TEST(RunnerConfigTest, RejectsRootUrlsThatAreNotHttp) {
  for (const char* url : {"ftp://tc.example.com", "tc.example.com", "\"\"", "https:///"}) {
    ExpectError({absl::StrCat("rootURL ", url), StaticWithLine(3, absl::StrCat("  rootURL: ", url)),
                 3, "provider.rootURL", "expected an http:// or https:// URL"});
  }
}

TEST(RunnerConfigTest, RejectsProviderStringsThatAreNotYamlStrings) {
  struct Kind {
    std::string text;
    std::string described;
  };
  const std::vector<Kind> kinds = {
      {"12345", "an integer"},
      {"1.5", "a float"},
      {"0x1f", "an integer"},
      {".inf", "a float"},
      {"true", "a boolean"},
      {"~", "null"},
      {"null", "null"},
      {"", "null"},
      {"2001-12-14", "a timestamp"},
      {"[a]", "a sequence"},
      {"{a: b}", "a mapping"},
      {"!!binary aGk=", "binary data"},
      {"-7", "an integer"},
      {"1_000", "an integer"},
      {"0o17", "an integer"},
      {"1e3", "a float"},
      {"FALSE", "a boolean"},
      {"NULL", "null"},
  };
  for (const Kind& kind : kinds) {
    ExpectError({absl::StrCat("workerID: ", kind.text),
                 StaticWithLine(7, "  workerID: " + kind.text), 7, "provider.workerID",
                 "expected a string, got " + kind.described,
                 kind.described == "null" ? "" : kind.text});
  }
  ExpectError(
      {"secret as a number", StaticWithLine(8, "  staticSecret: 98765432109876543210987654321"), 8,
       "provider.staticSecret", "expected a string, got a float", "98765432109876543210987654321"});
}

TEST(RunnerConfigTest, RejectsBadWorkerLocationAndMetadata) {
  const std::vector<ErrorCase> cases = {
      {"workerLocation is a sequence", StaticWithLine(9, "  workerLocation: [r12]"), 9,
       "provider.workerLocation", "expected a mapping, got a sequence"},
      {"workerLocation is a string", StaticWithLine(9, "  workerLocation: r12"), 9,
       "provider.workerLocation", "expected a mapping, got a string"},
      {"workerLocation value is a number", StaticWithLine(9, "  workerLocation: {rack: 12}"), 9,
       "provider.workerLocation.rack", "workerLocation value rack is not a string, got an integer"},
      {"workerLocation value is a mapping",
       StaticWithLine(9, "  workerLocation:\n    rack:\n      row: 1"), 10,
       "provider.workerLocation.rack", "workerLocation value rack is not a string, got a mapping"},
      {"workerLocation key is a sequence", StaticWithLine(9, "  workerLocation: {[a]: b}"), 9,
       "provider.workerLocation", "expected string keys, got a sequence"},
      {"providerMetadata is a string", StaticWithLine(10, "  providerMetadata: owner"), 10,
       "provider.providerMetadata", "expected a mapping, got a string"},
      {"providerMetadata key is a mapping", StaticWithLine(10, "  providerMetadata: {{a: b}: c}"),
       10, "provider.providerMetadata", "keys must be strings, got a key that is a mapping"},
      {"providerMetadata holds infinity", StaticWithLine(10, "  providerMetadata: {x: .inf}"), 10,
       "provider.providerMetadata.x", "cannot be represented in JSON"},
  };
  for (const ErrorCase& c : cases) ExpectError(c);
}

TEST(RunnerConfigTest, RejectsBadWorkerSections) {
  const std::string gw = "worker:\n  implementation: generic-worker\n";
  const std::vector<ErrorCase> cases = {
      {"no worker", kAws, 1, "worker", "no worker implementation given"},
      {"null worker", absl::StrCat(kAws, "worker:\n"), 2, "worker",
       "no worker implementation given"},
      {"worker is a string", absl::StrCat(kAws, "worker: dummy\n"), 2, "worker",
       "expected a mapping, got a string"},
      {"no implementation", absl::StrCat(kAws, "worker:\n  path: /bin/w\n"), 2,
       "worker.implementation", "no worker implementation given"},
      {"null implementation", absl::StrCat(kAws, "worker:\n  implementation: ~\n"), 2,
       "worker.implementation", "no worker implementation given"},
      {"empty implementation", absl::StrCat(kAws, "worker:\n  implementation: ''\n"), 3,
       "worker.implementation", "no worker implementation given"},
      {"implementation is a number", absl::StrCat(kAws, "worker:\n  implementation: 5\n"), 3,
       "worker.implementation", "must be a string, got an integer"},
      {"unknown implementation", absl::StrCat(kAws, "worker:\n  implementation: docker-worker\n"),
       3, "worker.implementation", "unrecognized worker implementation", "docker-worker"},
      {"no configPath", absl::StrCat(kAws, gw, "  path: /bin/gw\n"), 2, "worker.configPath",
       "missing; generic-worker requires it"},
      {"configPath is a number", absl::StrCat(kAws, gw, "  path: /bin/gw\n  configPath: 5\n"), 5,
       "worker.configPath", "expected a string, got an integer"},
      {"empty configPath", absl::StrCat(kAws, gw, "  path: /bin/gw\n  configPath: \"\"\n"), 5,
       "worker.configPath", "must not be empty"},
      {"neither path nor service", absl::StrCat(kAws, gw, "  configPath: /etc/gw.json\n"), 2,
       "worker", "exactly one of worker.path and worker.service must be given, got neither"},
      {"both path and service",
       absl::StrCat(kAws, gw, "  configPath: /etc/gw.json\n  path: /bin/gw\n  service: gw\n"), 2,
       "worker", "exactly one of worker.path and worker.service must be given, got both"},
      {"path is a number", absl::StrCat(kAws, gw, "  configPath: /etc/gw.json\n  path: 123\n"), 5,
       "worker.path", "expected a string, got an integer"},
      {"protocolPipe is a boolean",
       absl::StrCat(kAws, gw, "  configPath: /c.json\n  path: /gw\n  protocolPipe: true\n"), 6,
       "worker.protocolPipe", "expected a string, got a boolean"},
#ifndef _WIN32
      {"service off Windows", absl::StrCat(kAws, gw, "  configPath: /etc/gw.json\n  service: gw\n"),
       5, "worker.service", "only supported on Windows"},
#endif
  };
  for (const ErrorCase& c : cases) ExpectError(c);
}

TEST(RunnerConfigTest, RejectsBadOptionalSections) {
  const std::string base = absl::StrCat(kAws, kDummy);  // lines 1 and 2
  const std::vector<ErrorCase> cases = {
      {"workerConfig is a sequence", base + "workerConfig: [a]\n", 3, "workerConfig",
       "expected a mapping, got a sequence"},
      {"workerConfig is a JSON string", base + "workerConfig: '{\"a\": 1}'\n", 3, "workerConfig",
       "expected a mapping, got a quoted string"},
      {"workerConfig key is a sequence", base + "workerConfig:\n  x:\n    [a, b]: c\n", 5,
       "workerConfig.x", "keys must be strings, got a key that is a sequence"},
      {"workerConfig key is null", base + "workerConfig:\n  ~: c\n", 4, "workerConfig",
       "keys must be strings, got a key that is null"},
      {"workerConfig bad binary", base + "workerConfig:\n  blob: !!binary '@@@@'\n", 4,
       "workerConfig.blob", "!!binary value is not valid base64"},
      {"workerConfig NaN in a list", base + "workerConfig:\n  xs:\n    - 1\n    - .nan\n", 6,
       "workerConfig.xs[1]", "infinity and NaN cannot be represented in JSON"},
      {"logging is a string", base + "logging: stdio\n", 3, "logging",
       "expected a mapping, got a string"},
      {"logging without implementation", base + "logging:\n  foo: bar\n", 3, "logging",
       "must have an implementation"},
      {"logging implementation is a number", base + "logging:\n  implementation: 5\n", 4,
       "logging.implementation", "must be a string, got an integer"},
      {"getSecrets is 1", base + "getSecrets: 1\n", 3, "getSecrets",
       "expected a boolean, got an integer"},
      {"getSecrets is 0", base + "getSecrets: 0\n", 3, "getSecrets",
       "expected a boolean, got an integer"},
      {"getSecrets is quoted", base + "getSecrets: \"true\"\n", 3, "getSecrets",
       "expected a boolean, got a quoted string"},
      {"getSecrets is a quoted word", base + "getSecrets: 'yes'\n", 3, "getSecrets",
       "expected a boolean, got a quoted string"},
      {"getSecrets is another word", base + "getSecrets: maybe\n", 3, "getSecrets",
       "expected a boolean, got a string"},
      {"getSecrets is a float", base + "getSecrets: 1.0\n", 3, "getSecrets",
       "expected a boolean, got a float"},
      {"getSecrets is a sequence", base + "getSecrets: [true]\n", 3, "getSecrets",
       "expected a boolean, got a sequence"},
      {"getSecrets mixed case", base + "getSecrets: tRUE\n", 3, "getSecrets",
       "expected a boolean, got a string"},
      {"cacheOverRestarts is a sequence", base + "cacheOverRestarts: [a]\n", 3, "cacheOverRestarts",
       "expected a string, got a sequence"},
      {"cacheOverRestarts is a mapping", base + "cacheOverRestarts:\n  a: b\n", 3,
       "cacheOverRestarts", "expected a string, got a mapping"},
      {"static with cacheOverRestarts",
       absl::StrCat(kStaticExample, "cacheOverRestarts: /var/lib/state.json\n"), 15,
       "cacheOverRestarts", "do not use cacheOverRestarts with static provider"},
      {"api is a string", base + "api: /run/x.sock\n", 3, "api",
       "expected a mapping, got a string"},
      {"api.socket is a sequence", base + "api:\n  socket: [a]\n", 4, "api.socket",
       "expected a string, got a sequence"},
      {"api.socket is empty", base + "api:\n  socket: ''\n", 4, "api.socket", "must not be empty"},
      {"api.socket is relative", base + "api:\n  socket: run/api.sock\n", 4, "api.socket",
       "must be an absolute path"},
      {"api.group is a mapping", base + "api:\n  group: {a: b}\n", 4, "api.group",
       "expected a string, got a mapping"},
      {"shutdown is a list", base + "shutdown: [/sbin/poweroff]\n", 3, "shutdown",
       "expected a mapping, got a sequence"},
      {"shutdown.command is a string", base + "shutdown:\n  command: /sbin/poweroff\n", 4,
       "shutdown.command", "expected a list of strings, got a string"},
      {"shutdown.command is empty", base + "shutdown:\n  command: []\n", 4, "shutdown.command",
       "must not be empty"},
      {"shutdown.command item is a list", base + "shutdown:\n  command:\n    - /bin/x\n    - [a]\n",
       6, "shutdown.command[1]", "expected a string, got a sequence"},
      {"shutdown.command item is null", base + "shutdown:\n  command: [/bin/x, ~]\n", 4,
       "shutdown.command[1]", "expected a string, got null"},
      {"shutdown.command program is empty", base + "shutdown:\n  command: ['', now]\n", 4,
       "shutdown.command[0]", "must not be empty"},
      {"shutdown.gracePeriod is a word", base + "shutdown:\n  gracePeriod: soon\n", 4,
       "shutdown.gracePeriod", "expected a duration such as 30s"},
      {"shutdown.gracePeriod is negative", base + "shutdown:\n  gracePeriod: -5s\n", 4,
       "shutdown.gracePeriod", "must not be negative"},
      {"shutdown.gracePeriod is a negative integer", base + "shutdown:\n  gracePeriod: -5\n", 4,
       "shutdown.gracePeriod", "must not be negative"},
      {"shutdown.gracePeriod is a list", base + "shutdown:\n  gracePeriod: [30s]\n", 4,
       "shutdown.gracePeriod", "got a sequence"},
      {"shutdown.gracePeriod is too long", base + "shutdown:\n  gracePeriod: 25h\n", 4,
       "shutdown.gracePeriod", "must not be longer than 24h"},
  };
  for (const ErrorCase& c : cases) ExpectError(c);
}

TEST(RunnerConfigTest, ErrorsNameTheFileTheyWereGiven) {
  absl::StatusOr<RunnerConfig> config = ParseRunnerConfig("- x\n", "relative/runner.yml");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("runner config relative/runner.yml: line 1"));
}

// ---------------------------------------------------------------------------------------------
// The spec's examples

TEST(RunnerConfigTest, ParsesTheAwsExample) {
  absl::StatusOr<RunnerConfig> config = Parse(R"(provider:
  providerType: aws
worker:
  implementation: generic-worker
  path: /usr/local/bin/generic-worker
  configPath: /etc/generic-worker/config.json
workerConfig:
  cachesDir: /var/cache/gw
  tasksDir: /home
cacheOverRestarts: /var/lib/start-worker/state.json
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->file, kFile);
  EXPECT_EQ(config->provider.provider_type, "aws");
  EXPECT_EQ(config->worker.implementation, "generic-worker");
  EXPECT_EQ(config->worker.path, "/usr/local/bin/generic-worker");
  EXPECT_EQ(config->worker.config_path, "/etc/generic-worker/config.json");
  EXPECT_EQ(config->worker.service, "");
  EXPECT_EQ(config->worker_config,
            nlohmann::json::parse(R"({"cachesDir":"/var/cache/gw","tasksDir":"/home"})"));
  EXPECT_EQ(config->cache_over_restarts, "/var/lib/start-worker/state.json");
  EXPECT_TRUE(config->get_secrets);
  EXPECT_EQ(config->logging.implementation, "stdio");
  EXPECT_EQ(config->api.socket, "/run/worker-runner/api.sock");
  EXPECT_EQ(config->api.group, "");
  EXPECT_EQ(config->shutdown.command,
            (std::vector<std::string>{"/usr/sbin/shutdown", "-h", "now"}));
}

TEST(RunnerConfigTest, ParsesTheGoogleExample) {
  absl::StatusOr<RunnerConfig> config = Parse(R"(provider: {providerType: google}
worker:
  implementation: generic-worker
  path: /usr/local/bin/generic-worker
  configPath: /etc/generic-worker/config.json
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->provider.provider_type, "google");
  EXPECT_EQ(config->worker.path, "/usr/local/bin/generic-worker");
  EXPECT_EQ(config->worker_config, nlohmann::json::object());
  EXPECT_EQ(config->cache_over_restarts, "");
}

TEST(RunnerConfigTest, HandlesTheAzureWindowsServiceExample) {
  absl::StatusOr<RunnerConfig> config = Parse(R"(provider:
  providerType: azure
worker:
  implementation: generic-worker
  service: Generic Worker
  configPath: C:\generic-worker\config.json
  protocolPipe: \\.\pipe\generic-worker
cacheOverRestarts: C:\generic-worker\runner-state.json
)");
#ifdef _WIN32
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->worker.service, "Generic Worker");
  EXPECT_EQ(config->worker.protocol_pipe, R"(\\.\pipe\generic-worker)");
  EXPECT_EQ(config->worker.config_path, R"(C:\generic-worker\config.json)");
  EXPECT_EQ(config->cache_over_restarts, R"(C:\generic-worker\runner-state.json)");
#else
  // Service mode exists on Windows only, so elsewhere this example is refused at load time.
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("/etc/w.yaml: line 5: worker.service: only supported on Windows"));
#endif
}

void ExpectStaticExample(const RunnerConfig& config) {
  const ProviderConfig& p = config.provider;
  EXPECT_EQ(p.provider_type, "static");
  EXPECT_EQ(p.root_url, "https://tc.example.com");
  EXPECT_EQ(p.provider_id, "hw-static");
  EXPECT_EQ(p.worker_pool_id, "proj-hw/mac-mini");
  EXPECT_EQ(p.worker_group, "datacenter-1");
  EXPECT_EQ(p.worker_id, "0042");
  EXPECT_EQ(p.static_secret, "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdef");
  EXPECT_EQ(p.client_id, "");
  EXPECT_EQ(p.access_token, "");
  EXPECT_EQ(p.worker_location, (std::map<std::string, std::string>{{"rack", "r12"}}));
  EXPECT_EQ(p.provider_metadata, nlohmann::json::parse(R"({"owner":"ops@example.com"})"));
  EXPECT_EQ(config.worker.implementation, "generic-worker");
  EXPECT_EQ(config.worker.path, "/usr/local/bin/generic-worker");
  EXPECT_EQ(config.worker.config_path, "/etc/generic-worker/config.json");
}

TEST(RunnerConfigTest, ParsesTheStaticExample) {
  absl::StatusOr<RunnerConfig> config = Parse(kStaticExample);
  ASSERT_TRUE(config.ok()) << config.status();
  ExpectStaticExample(*config);
}

TEST(RunnerConfigTest, ParsesTheStandaloneExample) {
  absl::StatusOr<RunnerConfig> config = Parse(kStandaloneExample);
  ASSERT_TRUE(config.ok()) << config.status();
  const ProviderConfig& p = config->provider;
  EXPECT_EQ(p.provider_type, "standalone");
  EXPECT_EQ(p.root_url, "https://tc.example.com");
  EXPECT_EQ(p.client_id, "project/ci/standalone-1");
  EXPECT_EQ(p.access_token, "REDACTED-ACCESS-TOKEN");
  EXPECT_EQ(p.worker_pool_id, "proj-ci/linux");
  EXPECT_EQ(p.worker_group, "office");
  EXPECT_EQ(p.worker_id, "desk-7");
  EXPECT_TRUE(p.worker_location.empty());
  EXPECT_EQ(p.provider_metadata, nlohmann::json::object());
  EXPECT_EQ(config->worker.implementation, "dummy");
  EXPECT_FALSE(config->get_secrets);
  EXPECT_EQ(config->logging.implementation, "stdio");
}

// ---------------------------------------------------------------------------------------------
// Encoding and YAML details

TEST(RunnerConfigTest, AcceptsCrlfLineEndingsAndAByteOrderMark) {
  const std::string crlf = absl::StrReplaceAll(kStaticExample, {{"\n", "\r\n"}});
  for (const std::string& text :
       {crlf, "\xEF\xBB\xBF" + crlf, "\xEF\xBB\xBF" + std::string(kStaticExample)}) {
    absl::StatusOr<RunnerConfig> config = Parse(text);
    ASSERT_TRUE(config.ok()) << config.status();
    ExpectStaticExample(*config);
  }
}

TEST(RunnerConfigTest, CountsLinesTheSameWithCrlfAndBom) {
  const std::string text =
      "\xEF\xBB\xBFprovider: {providerType: aws}\r\n" + std::string(kDummy) + "getSecrets: 1\r\n";
  ExpectError({"crlf bom", text, 3, "getSecrets", "expected a boolean, got an integer"});
}

TEST(RunnerConfigTest, ReadsBooleanWords) {
  const std::vector<std::pair<std::string, bool>> words = {
      {"true", true},   {"True", true}, {"TRUE", true},        {"false", false}, {"False", false},
      {"FALSE", false}, {"yes", true},  {"Yes", true},         {"YES", true},    {"no", false},
      {"No", false},    {"NO", false},  {"on", true},          {"On", true},     {"ON", true},
      {"off", false},   {"Off", false}, {"OFF", false},        {"y", true},      {"Y", true},
      {"n", false},     {"N", false},   {"!!bool true", true},
  };
  for (const auto& [word, value] : words) {
    SCOPED_TRACE(word);
    absl::StatusOr<RunnerConfig> config = Parse(absl::StrCat(kAws, kDummy, "getSecrets: ", word));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->get_secrets, value);
  }
}

TEST(RunnerConfigTest, KeepsDefaultsForNullValues) {
  absl::StatusOr<RunnerConfig> config =
      Parse(absl::StrCat(kAws, kDummy,
                         "getSecrets:\nworkerConfig: ~\nlogging: null\ncacheOverRestarts:\n"
                         "api:\nshutdown:\n  command:\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->get_secrets);
  EXPECT_EQ(config->worker_config, nlohmann::json::object());
  EXPECT_EQ(config->logging.implementation, "stdio");
  EXPECT_EQ(config->cache_over_restarts, "");
  EXPECT_EQ(config->api.socket, "/run/worker-runner/api.sock");
  EXPECT_EQ(config->shutdown.command,
            (std::vector<std::string>{"/usr/sbin/shutdown", "-h", "now"}));
}

TEST(RunnerConfigTest, TakesTopLevelStringsAsLiteralText) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"true", "true"}, {"12", "12"},     {"'quoted path'", "quoted path"},
      {"0x1f", "0x1f"}, {"1.50", "1.50"}, {"state.json", "state.json"},
  };
  for (const auto& [yaml, text] : cases) {
    SCOPED_TRACE(yaml);
    absl::StatusOr<RunnerConfig> config = Parse(
        absl::StrCat(kAws, kDummy, "cacheOverRestarts: ", yaml, "\napi:\n  group: ", yaml, "\n"));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->cache_over_restarts, text);
    EXPECT_EQ(config->api.group, text);
  }
}

TEST(RunnerConfigTest, ReadsTheShutdownGracePeriod) {
  const std::string base = absl::StrCat(kStaticExample, "");
  EXPECT_EQ(Parse(kStaticExample)->shutdown.grace_period, absl::Seconds(30));
  for (const auto& [text, expected] :
       std::vector<std::pair<std::string, absl::Duration>>{{"45", absl::Seconds(45)},
                                                           {"0", absl::ZeroDuration()},
                                                           {"30s", absl::Seconds(30)},
                                                           {"5m", absl::Minutes(5)},
                                                           {"1h30m", absl::Minutes(90)},
                                                           {"1.5s", absl::Milliseconds(1500)},
                                                           {"\"2m\"", absl::Minutes(2)}}) {
    absl::StatusOr<RunnerConfig> config =
        Parse(absl::StrCat(base, "shutdown:\n  gracePeriod: ", text, "\n"));
    ASSERT_TRUE(config.ok()) << text << ": " << config.status();
    EXPECT_EQ(config->shutdown.grace_period, expected) << text;
  }
  for (const char* bad : {"", "inf", "-1s", "5 m", "1e3", "5x", "1234567"}) {
    EXPECT_EQ(ParseGracePeriod(bad), std::nullopt) << bad;
  }
}

TEST(RunnerConfigTest, ReadsApiAndShutdownKeys) {
  absl::StatusOr<RunnerConfig> config = Parse(absl::StrCat(kAws, kDummy, R"(api:
  socket: /tmp/runner/api.sock
  group: taskcluster-monitor
  other: ignored
shutdown:
  command: [/bin/echo, power, 0]
)"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->api.socket, "/tmp/runner/api.sock");
  EXPECT_EQ(config->api.group, "taskcluster-monitor");
  EXPECT_EQ(config->shutdown.command, (std::vector<std::string>{"/bin/echo", "power", "0"}));
}

TEST(RunnerConfigTest, AcceptsAnExternalWorkerWithoutKeysOfItsOwn) {
  absl::StatusOr<RunnerConfig> config =
      Parse(absl::StrCat(kAws, "worker:\n  implementation: external\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->worker.implementation, "external");
  EXPECT_EQ(config->worker.config_path, "");
}

TEST(RunnerConfigTest, AcceptsQuotedAndCoreSchemaStringsInProviderFields) {
  // Only the core schema's true/false are booleans in a string field; `yes` is just a word.
  absl::StatusOr<RunnerConfig> config = Parse(R"(provider:
  providerType: "static"
  rootURL: 'https://tc.example.com///'
  providerID: yes
  workerPoolID: !!str 12
  workerGroup: "true"
  workerID: '12345'
  staticSecret: |-
    secret
worker:
  implementation: generic-worker
  configPath: "5"
  path: on
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->provider.root_url, "https://tc.example.com");
  EXPECT_EQ(config->provider.provider_id, "yes");
  EXPECT_EQ(config->provider.worker_pool_id, "12");
  EXPECT_EQ(config->provider.worker_group, "true");
  EXPECT_EQ(config->provider.worker_id, "12345");
  EXPECT_EQ(config->provider.static_secret, "secret");
  EXPECT_EQ(config->worker.config_path, "5");
  EXPECT_EQ(config->worker.path, "on");
}

TEST(RunnerConfigTest, IgnoresUnknownAndExtraKeys) {
  absl::StatusOr<RunnerConfig> config = Parse(R"(provider:
  providerType: aws
  rootURL: 5
  workerLocation: [not, checked]
worker:
  implementation: dummy
  path: 7
futureKey: {anything: [1, 2]}
genericWorker: {config: {x: 1}}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->provider.root_url, "");
  EXPECT_TRUE(config->provider.worker_location.empty());
  EXPECT_EQ(config->worker.path, "");

  absl::StatusOr<RunnerConfig> with_extra =
      Parse(StaticWithLine(11, "  clientID: 5\n  accessToken: [x]\nworker:"));
  ASSERT_TRUE(with_extra.ok()) << with_extra.status();
  EXPECT_EQ(with_extra->provider.client_id, "");
}

TEST(RunnerConfigTest, ReadsWorkerLocationAndProviderMetadata) {
  absl::StatusOr<RunnerConfig> config =
      Parse(WithLine(StaticWithLine(10, "  # replaced below"), 9,
                     "  workerLocation: {cloud: colo, region: 'eu-1', zone: \"3\"}\n"
                     "  providerMetadata:\n    owner: ops\n    slots: 4\n"
                     "    tags: [a, b]\n    nested: {on: true}"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(
      config->provider.worker_location,
      (std::map<std::string, std::string>{{"cloud", "colo"}, {"region", "eu-1"}, {"zone", "3"}}));
  EXPECT_EQ(config->provider.provider_metadata.dump(),
            R"({"nested":{"on":true},"owner":"ops","slots":4,"tags":["a","b"]})");
}

TEST(RunnerConfigTest, ConvertsWorkerConfigToJson) {
  absl::StatusOr<RunnerConfig> config = Parse(absl::StrCat(kAws, kDummy, R"(workerConfig:
  int: 10
  negative: -3
  hex: 0x1f
  octal: 0o17
  legacyOctal: 017
  separated: 1_000
  big: 18446744073709551615
  huge: 123456789012345678901234567890
  float: 1.5
  exponent: 1e3
  trueWord: True
  falseWord: false
  yesWord: yes
  nothing: ~
  empty:
  quotedInt: "10"
  quotedBool: 'true'
  text: plain words
  block: |
    line one
    line two
  date: 2001-12-14
  time: 2001-12-14t21:59:43.10-05:00
  list: [1, two, {three: 3}]
  nested:
    deeper:
      value: 7
  blob: !!binary aGVsbG8gd29ybGQ=
  multiLineBlob: !!binary |
    aGVsbG8g
    d29ybGQ=
)"));
  ASSERT_TRUE(config.ok()) << config.status();
  const nlohmann::json& c = config->worker_config;
  EXPECT_TRUE(c["int"].is_number_integer());
  EXPECT_EQ(c["int"].dump(), "10");
  EXPECT_EQ(c["negative"].dump(), "-3");
  EXPECT_EQ(c["hex"].dump(), "31");
  EXPECT_EQ(c["octal"].dump(), "15");
  EXPECT_EQ(c["legacyOctal"].dump(), "15");
  EXPECT_EQ(c["separated"].dump(), "1000");
  EXPECT_EQ(c["big"].dump(), "18446744073709551615");
  EXPECT_TRUE(c["huge"].is_number_float());
  EXPECT_TRUE(c["float"].is_number_float());
  EXPECT_DOUBLE_EQ(c["float"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(c["exponent"].get<double>(), 1000.0);
  EXPECT_EQ(c["trueWord"], true);
  EXPECT_EQ(c["falseWord"], false);
  EXPECT_EQ(c["yesWord"], "yes");
  EXPECT_TRUE(c["nothing"].is_null());
  EXPECT_TRUE(c["empty"].is_null());
  EXPECT_EQ(c["quotedInt"], "10");
  EXPECT_EQ(c["quotedBool"], "true");
  EXPECT_EQ(c["text"], "plain words");
  EXPECT_EQ(c["block"], "line one\nline two\n");
  EXPECT_EQ(c["date"], "2001-12-14T00:00:00Z");
  EXPECT_EQ(c["time"], "2001-12-14T21:59:43.1-05:00");
  EXPECT_EQ(c["list"].dump(), R"([1,"two",{"three":3}])");
  EXPECT_EQ(c["nested"].dump(), R"({"deeper":{"value":7}})");
  EXPECT_EQ(c["blob"], "hello world");
  EXPECT_EQ(c["multiLineBlob"], "hello world");
}

TEST(RunnerConfigTest, MakesWorkerConfigSafeToSerialize) {
  // \xff is not UTF-8; it must not make a later dump() throw.
  absl::StatusOr<RunnerConfig> config =
      Parse(absl::StrCat(kAws, kDummy, "workerConfig:\n  raw: !!binary /w==\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->worker_config["raw"], "\xEF\xBF\xBD");
  EXPECT_NO_THROW(config->worker_config.dump());
}

TEST(RunnerConfigTest, ConvertsDeeplyNestedWorkerConfig) {
  absl::StatusOr<RunnerConfig> config =
      Parse(absl::StrCat(kAws, kDummy, "workerConfig: {a: ", Nested(200), "}\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->worker_config["a"].dump(), Nested(200));
}

TEST(RunnerConfigTest, SharesAliasedValuesInWorkerConfig) {
  absl::StatusOr<RunnerConfig> config =
      Parse(absl::StrCat(kAws, kDummy, "workerConfig:\n  a: &v {x: 1}\n  b: *v\n"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->worker_config.dump(), R"({"a":{"x":1},"b":{"x":1}})");
}

TEST(RunnerConfigTest, KeepsStdioForAnUnknownLoggingImplementation) {
  auto sink = std::make_unique<common::MemoryLogSink>();
  common::MemoryLogSink* lines = sink.get();
  std::unique_ptr<common::LogSink> previous = common::Logger::Default().SetSink(std::move(sink));

  absl::StatusOr<RunnerConfig> config =
      Parse(absl::StrCat(kAws, kDummy, "logging:\n  implementation: syslog\n  extra: x\n"));

  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->logging.implementation, "stdio");
  const std::vector<std::string> logged = lines->lines();
  common::Logger::Default().SetSink(std::move(previous));
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_THAT(logged[0], HasSubstr("unrecognized logging implementation"));
  EXPECT_THAT(logged[0], HasSubstr("file=/etc/w.yaml"));
}

TEST(RunnerConfigTest, AllowsCacheWithNonStaticProviders) {
  for (const std::string provider : {"aws", "azure", "google"}) {
    SCOPED_TRACE(provider);
    absl::StatusOr<RunnerConfig> config = Parse(absl::StrCat(
        "provider: {providerType: ", provider, "}\n", kDummy, "cacheOverRestarts: state.json\n"));
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->cache_over_restarts, "state.json");
  }
  absl::StatusOr<RunnerConfig> standalone =
      Parse(absl::StrCat(kStandaloneExample, "cacheOverRestarts: state.json\n"));
  ASSERT_TRUE(standalone.ok()) << standalone.status();
}

}  // namespace
}  // namespace runner::config
