#include "server/providers/run_state.h"

#include <functional>

#include "gtest/gtest.h"

namespace runner::providers {
namespace {

RunState Complete() {
  RunState state;
  state.root_url = "https://tc.example.com";
  state.provider_id = "p";
  state.worker_pool_id = "a/b";
  state.worker_group = "g";
  state.worker_id = "w";
  state.credentials.client_id = "c";
  state.worker_location = {{"cloud", "static"}};
  return state;
}

TEST(RunStateTest, SanityCheckNamesTheFirstMissingField) {
  ASSERT_TRUE(Complete().CheckComplete().ok());
  const std::pair<const char*, std::function<void(RunState*)>> cases[] = {
      {"rootURL", [](RunState* s) { s->root_url.clear(); }},
      {"rootURL must not end", [](RunState* s) { s->root_url += "/"; }},
      {"clientId", [](RunState* s) { s->credentials.client_id.clear(); }},
      {"workerPoolId", [](RunState* s) { s->worker_pool_id.clear(); }},
      {"workerGroup", [](RunState* s) { s->worker_group.clear(); }},
      {"workerId", [](RunState* s) { s->worker_id.clear(); }},
      {"providerId", [](RunState* s) { s->provider_id.clear(); }},
      {"cloud", [](RunState* s) { s->worker_location.clear(); }},
  };
  for (const auto& [field, breakit] : cases) {
    SCOPED_TRACE(field);
    RunState state = Complete();
    breakit(&state);
    absl::Status status = state.CheckComplete();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(status.message().find(field), absl::string_view::npos) << status.message();
  }
}

}  // namespace
}  // namespace runner::providers
