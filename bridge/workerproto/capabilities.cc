#include "bridge/workerproto/capabilities.h"

namespace runner::workerproto {

Capabilities::Capabilities(const std::vector<std::string>& names)
    : names_(names.begin(), names.end()) {}

Capabilities Capabilities::RunnerDefaults() {
  return Capabilities(
      {kCapErrorReport, kCapGracefulTermination, kCapLog, kCapNewCredentials, kCapShutdown});
}

void Capabilities::Add(absl::string_view name) { names_.emplace(name); }

void Capabilities::Remove(absl::string_view name) {
  auto it = names_.find(name);
  if (it != names_.end()) names_.erase(it);
}

bool Capabilities::Has(absl::string_view name) const { return names_.find(name) != names_.end(); }

Capabilities Capabilities::Intersect(const Capabilities& other) const {
  Capabilities both;
  for (const std::string& name : names_) {
    if (other.Has(name)) both.names_.insert(both.names_.end(), name);
  }
  return both;
}

std::vector<std::string> Capabilities::List() const {
  return std::vector<std::string>(names_.begin(), names_.end());
}

}  // namespace runner::workerproto
