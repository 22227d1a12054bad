#include "server/providers/provider.h"

#include "absl/strings/str_cat.h"

#include "server/providers/aws_provider.h"
#include "server/providers/azure_provider.h"
#include "server/providers/google_provider.h"
#include "server/providers/standalone_provider.h"
#include "server/providers/static_provider.h"

namespace runner::providers {

absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const config::ProviderConfig& config) {
  const std::string& type = config.provider_type;
  if (type == "standalone") return std::make_unique<StandaloneProvider>(config);
  if (type == "static") return std::make_unique<StaticProvider>(config);
  if (type == "aws") return AwsProvider::Create(config);
  if (type == "google") return GoogleProvider::Create(config);
  if (type == "azure") {
    absl::StatusOr<std::unique_ptr<AzureProvider>> azure = AzureProvider::Create();
    if (!azure.ok()) return azure.status();
    return std::unique_ptr<Provider>(*std::move(azure));
  }
  if (type.empty()) return absl::InvalidArgumentError("no provider given");
  return absl::InvalidArgumentError(absl::StrCat("unrecognized provider type: ", type));
}

}  // namespace runner::providers
