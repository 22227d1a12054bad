#include "server/lifecycle/redacted_config.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace runner::lifecycle {
namespace {

// RFC 6901 escaping of one reference token.
std::string EscapePointerToken(const std::string& token) {
  return absl::StrReplaceAll(token, {{"~", "~0"}, {"/", "~1"}});
}

// Replaces, below `pointer`, every string that contains one of `secrets`.
void RedactByValue(nlohmann::json* value, const std::string& pointer,
                   const std::vector<std::string>& secrets, std::vector<std::string>* redacted) {
  if (value->is_object()) {
    for (auto& [key, member] : value->items()) {
      RedactByValue(&member, absl::StrCat(pointer, "/", EscapePointerToken(key)), secrets,
                    redacted);
    }
  } else if (value->is_array()) {
    for (size_t i = 0; i < value->size(); ++i) {
      RedactByValue(&(*value)[i], absl::StrCat(pointer, "/", i), secrets, redacted);
    }
  } else if (value->is_string()) {
    const std::string& text = value->get_ref<const std::string&>();
    bool secret = std::any_of(secrets.begin(), secrets.end(), [&](const std::string& s) {
      return text.find(s) != std::string::npos;
    });
    if (secret) {
      *value = kRedacted;
      redacted->push_back(pointer);
    }
  }
}

}  // namespace

void CollectLeafPaths(const nlohmann::json& value, const std::string& prefix,
                      std::vector<std::string>* paths) {
  if (value.is_object() && !value.empty()) {
    for (const auto& [key, member] : value.items()) {
      CollectLeafPaths(member, absl::StrCat(prefix, "/", EscapePointerToken(key)), paths);
    }
    return;
  }
  paths->push_back(prefix);
}

RedactedConfig RedactWorkerConfig(const providers::RunState& state,
                                  const std::vector<std::string>& extra_secrets) {
  RedactedConfig out;
  out.config = state.worker_config;

  for (const std::string& path : state.secret_config_paths) {
    nlohmann::json::json_pointer pointer(path);
    if (path.empty() || !out.config.contains(pointer)) continue;
    out.config[pointer] = kRedacted;
    out.redacted.push_back(path);
  }

  // Short strings would blank out ordinary words that happen to be inside them.
  constexpr size_t kMinSecretLength = 6;
  std::vector<std::string> secrets;
  for (const std::string* candidate :
       {&state.credentials.access_token, &state.credentials.certificate,
        &state.registration_secret}) {
    if (candidate->size() >= kMinSecretLength) secrets.push_back(*candidate);
  }
  for (const std::string& extra : extra_secrets) {
    if (extra.size() >= kMinSecretLength) secrets.push_back(extra);
  }
  if (!secrets.empty()) RedactByValue(&out.config, "", secrets, &out.redacted);

  std::sort(out.redacted.begin(), out.redacted.end());
  out.redacted.erase(std::unique(out.redacted.begin(), out.redacted.end()), out.redacted.end());
  return out;
}

}  // namespace runner::lifecycle
