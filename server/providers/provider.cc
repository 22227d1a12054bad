#include "server/providers/provider.h"

#include "absl/strings/str_cat.h"

#include "server/providers/azure_provider.h"
#include "server/providers/standalone_provider.h"
#include "server/providers/static_provider.h"

namespace runner::providers {

absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const config::ProviderConfig& config) {
  const std::string& type = config.provider_type;
  if (type == "standalone") return std::make_unique<StandaloneProvider>(config);
  if (type == "static") return std::make_unique<StaticProvider>(config);
  if (type == "azure") {
    absl::StatusOr<std::unique_ptr<AzureProvider>> azure = AzureProvider::Create();
    if (!azure.ok()) return azure.status();
    return std::unique_ptr<Provider>(*std::move(azure));
  }
  if (type == "aws" || type == "google") {
    // TODO: the cloud providers need their metadata clients and interruption watchers; they
    // land with the cloud-provider work, and until then refuse to start.
    return absl::UnimplementedError(absl::StrCat("provider ", type, " is not built yet"));
  }
  if (type.empty()) return absl::InvalidArgumentError("no provider given");
  return absl::InvalidArgumentError(absl::StrCat("unrecognized provider type: ", type));
}

}  // namespace runner::providers
