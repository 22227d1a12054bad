#ifndef RUNNER_BRIDGE_WORKERPROTO_CAPABILITIES_H_
#define RUNNER_BRIDGE_WORKERPROTO_CAPABILITIES_H_

#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace runner::workerproto {

inline constexpr char kCapErrorReport[] = "error-report";
inline constexpr char kCapGracefulTermination[] = "graceful-termination";
inline constexpr char kCapLog[] = "log";
inline constexpr char kCapNewCredentials[] = "new-credentials";
inline constexpr char kCapShutdown[] = "shutdown";

// A set of capability names, kept sorted. Value type; not thread-safe.
class Capabilities {
 public:
  Capabilities() = default;
  explicit Capabilities(const std::vector<std::string>& names);

  // The five capabilities the runner always offers.
  static Capabilities RunnerDefaults();

  void Add(absl::string_view name);
  void Remove(absl::string_view name);
  bool Has(absl::string_view name) const;
  Capabilities Intersect(const Capabilities& other) const;
  std::vector<std::string> List() const;  // sorted
  bool empty() const { return names_.empty(); }

 private:
  std::set<std::string, std::less<>> names_;
};

}  // namespace runner::workerproto

#endif  // RUNNER_BRIDGE_WORKERPROTO_CAPABILITIES_H_
