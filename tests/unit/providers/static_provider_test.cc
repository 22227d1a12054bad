#include "server/providers/static_provider.h"

#include "gtest/gtest.h"

namespace runner::providers {
namespace {

TEST(StaticProviderTest, AllSettingsGiveStateAndTheStaticSecretProof) {
  config::ProviderConfig settings;
  settings.provider_type = "static";
  settings.root_url = "https://tc.example.com";
  settings.provider_id = "hw-static";
  settings.worker_pool_id = "proj-hw/mac-mini";
  settings.worker_group = "datacenter-1";
  settings.worker_id = "0042";
  settings.static_secret = "quiet-static-secret-for-tests";
  settings.worker_location = {{"region", "r"}, {"zone", "z"}};
  settings.provider_metadata = {{"temperature", "24"}};

  StaticProvider provider(settings);
  RunState state;
  auto proof = provider.ConfigureRun(&state);
  ASSERT_TRUE(proof.ok());
  ASSERT_TRUE(proof->has_value());
  EXPECT_EQ(**proof, nlohmann::json({{"staticSecret", "quiet-static-secret-for-tests"}}));
  EXPECT_EQ(state.provider_id, "hw-static");
  EXPECT_EQ(state.worker_pool_id, "proj-hw/mac-mini");
  EXPECT_EQ(state.worker_group, "datacenter-1");
  EXPECT_EQ(state.worker_id, "0042");
  EXPECT_EQ(state.provider_metadata, nlohmann::json({{"temperature", "24"}}));
  EXPECT_EQ(state.worker_location, (std::map<std::string, std::string>{
                                       {"cloud", "static"}, {"region", "r"}, {"zone", "z"}}));
  EXPECT_FALSE(provider.dynamically_provisioned());
}

TEST(StaticProviderTest, CachedRunIsAlwaysRefused) {
  StaticProvider provider(config::ProviderConfig{});
  RunState state;
  absl::Status status = provider.UseCachedRun(&state);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(), "do not use cacheOverRestarts with static provider");
}

}  // namespace
}  // namespace runner::providers
