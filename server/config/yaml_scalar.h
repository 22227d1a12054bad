#ifndef RUNNER_SERVER_CONFIG_YAML_SCALAR_H_
#define RUNNER_SERVER_CONFIG_YAML_SCALAR_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

// Text-level rules for YAML scalars, matching how the upstream Go runner (yaml.v3) reads its
// config: the core schema for plain scalars, plus the YAML 1.1 boolean words for boolean fields.
// Pure functions; thread-safe.
namespace runner::config {

// What a plain (unquoted, untagged) scalar resolves to.
enum class ScalarKind { kNull, kBool, kInt, kFloat, kTimestamp, kString };

ScalarKind ResolvePlainScalar(absl::string_view text);

// true/True/TRUE and false/False/FALSE only.
std::optional<bool> ParseCoreBool(absl::string_view text);

// The core forms plus y/yes/on and n/no/off in lower, capitalised and upper case, which yaml.v3
// accepts when the target is a boolean.
std::optional<bool> ParseBoolWord(absl::string_view text);

// A plain integer scalar: decimal, 0x hex, 0o or leading-0 octal, 0b binary, '_' separators,
// optional sign. Values that fit int64 are signed; larger positive values up to 2^64-1 unsigned.
struct YamlInteger {
  bool is_unsigned = false;
  int64_t signed_value = 0;
  uint64_t unsigned_value = 0;
};
std::optional<YamlInteger> ParseYamlInteger(absl::string_view text);

// A plain float scalar, including .inf/-.inf/.nan. Out-of-range values are not floats.
std::optional<double> ParseYamlFloat(absl::string_view text);

// A plain timestamp scalar (2001-12-14, 2001-12-14T21:59:43.1Z, 2001-12-14 21:59:43) rewritten in
// RFC 3339 with nanosecond precision and trailing zeros dropped, as Go marshals a time to JSON.
std::optional<std::string> TimestampToRfc3339(absl::string_view text);

// Standard base64 with embedded whitespace allowed, as in a `!!binary` block scalar.
std::optional<std::string> DecodeBase64(absl::string_view text);

// The offset of the first byte that is not part of a valid UTF-8 sequence, if any.
std::optional<size_t> FindInvalidUtf8(absl::string_view text);

// Replaces every byte that is not part of a valid UTF-8 sequence with U+FFFD, so the string can
// be stored in JSON and serialised without error.
std::string ToValidUtf8(absl::string_view text);

}  // namespace runner::config

#endif  // RUNNER_SERVER_CONFIG_YAML_SCALAR_H_
