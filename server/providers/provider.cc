#include "server/providers/provider.h"

#include "absl/strings/str_cat.h"

#include "server/providers/standalone_provider.h"

namespace runner::providers {

absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const config::ProviderConfig& config) {
  const std::string& type = config.provider_type;
  if (type == "standalone") return std::make_unique<StandaloneProvider>(config);
  if (type == "static" || type == "aws" || type == "azure" || type == "google") {
    // TODO: the static and cloud providers need the Taskcluster client (registration) and the
    // metadata clients; they land with the Taskcluster and cloud-provider work.
    return absl::UnimplementedError(absl::StrCat("provider ", type, " is not built yet"));
  }
  if (type.empty()) return absl::InvalidArgumentError("no provider given");
  return absl::InvalidArgumentError(absl::StrCat("unrecognized provider type: ", type));
}

}  // namespace runner::providers
