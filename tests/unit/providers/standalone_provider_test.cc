#include "server/providers/standalone_provider.h"

#include "gtest/gtest.h"

#include "server/providers/provider.h"

namespace runner::providers {
namespace {

config::ProviderConfig Settings() {
  config::ProviderConfig settings;
  settings.provider_type = "standalone";
  settings.root_url = "https://tc.example.com";
  settings.client_id = "project/ci/standalone-1";
  settings.access_token = "access-token-for-tests";
  settings.worker_pool_id = "proj-ci/linux";
  settings.worker_group = "office";
  settings.worker_id = "desk-7";
  return settings;
}

TEST(StandaloneProviderTest, OnlyRequiredSettingsGiveIdentityAndPermanentCredentials) {
  StandaloneProvider provider(Settings());
  RunState state;
  auto proof = provider.ConfigureRun(&state);
  ASSERT_TRUE(proof.ok());
  EXPECT_FALSE(proof->has_value());  // no registration
  EXPECT_EQ(state.root_url, "https://tc.example.com");
  EXPECT_EQ(state.provider_id, "standalone");
  EXPECT_EQ(state.credentials.client_id, "project/ci/standalone-1");
  EXPECT_EQ(state.credentials.access_token, "access-token-for-tests");
  EXPECT_TRUE(state.credentials.certificate.empty());
  EXPECT_FALSE(state.credentials_expire.has_value());
  EXPECT_EQ(state.provider_metadata, nlohmann::json::object());
  EXPECT_EQ(state.worker_location, (std::map<std::string, std::string>{{"cloud", "standalone"}}));
  EXPECT_TRUE(state.CheckComplete().ok());
  EXPECT_FALSE(provider.dynamically_provisioned());
}

TEST(StandaloneProviderTest, ExtraLocationAndMetadataAreCopied) {
  config::ProviderConfig settings = Settings();
  settings.worker_location = {{"region", "home"}, {"zone", "desk"}};
  settings.provider_metadata = {{"owner", "me"}, {"temperature", "24"}};
  StandaloneProvider provider(settings);
  RunState state;
  ASSERT_TRUE(provider.ConfigureRun(&state).ok());
  EXPECT_EQ(state.worker_location,
            (std::map<std::string, std::string>{
                {"cloud", "standalone"}, {"region", "home"}, {"zone", "desk"}}));
  EXPECT_EQ(state.provider_metadata, settings.provider_metadata);
}

TEST(StandaloneProviderTest, ConfiguredCloudOverridesTheDefault) {
  config::ProviderConfig settings = Settings();
  settings.worker_location = {{"cloud", "lab"}};
  StandaloneProvider provider(settings);
  RunState state;
  ASSERT_TRUE(provider.ConfigureRun(&state).ok());
  EXPECT_EQ(state.worker_location.at("cloud"), "lab");
}

TEST(MakeProviderTest, BuildsEveryProviderTypeAndRefusesUnknownOnes) {
  config::ProviderConfig settings = Settings();
  auto standalone = MakeProvider(settings);
  ASSERT_TRUE(standalone.ok());
  EXPECT_EQ((*standalone)->type(), "standalone");
  settings.provider_type = "azure";
  auto azure = MakeProvider(settings);
  ASSERT_TRUE(azure.ok()) << azure.status();
  EXPECT_EQ((*azure)->type(), "azure");
  EXPECT_TRUE((*azure)->dynamically_provisioned());
  for (const char* type : {"aws", "google"}) {
    SCOPED_TRACE(type);
    settings.provider_type = type;
    auto cloud = MakeProvider(settings);
    ASSERT_TRUE(cloud.ok()) << cloud.status();
    EXPECT_EQ((*cloud)->type(), type);
    EXPECT_TRUE((*cloud)->dynamically_provisioned());
  }
  settings.provider_type = "ec2";
  EXPECT_EQ(MakeProvider(settings).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace runner::providers
