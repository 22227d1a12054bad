#include "bridge/workerproto/capabilities.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace runner::workerproto {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(CapabilitiesTest, ListIsSortedWithoutDuplicates) {
  Capabilities caps({"shutdown", "log", "error-report", "log"});
  EXPECT_THAT(caps.List(), ElementsAre("error-report", "log", "shutdown"));
}

TEST(CapabilitiesTest, RunnerDefaultsAreTheFiveRunnerCapabilities) {
  EXPECT_THAT(
      Capabilities::RunnerDefaults().List(),
      ElementsAre("error-report", "graceful-termination", "log", "new-credentials", "shutdown"));
}

TEST(CapabilitiesTest, AddRemoveAndHas) {
  Capabilities caps;
  EXPECT_TRUE(caps.empty());
  caps.Add("log");
  caps.Add("log");
  EXPECT_TRUE(caps.Has("log"));
  EXPECT_FALSE(caps.Has("shutdown"));
  EXPECT_FALSE(caps.empty());

  caps.Remove("shutdown");  // absent: no effect
  caps.Remove("log");
  EXPECT_FALSE(caps.Has("log"));
  EXPECT_TRUE(caps.empty());
}

TEST(CapabilitiesTest, IntersectKeepsOnlyNamesOnBothSides) {
  Capabilities runner({"error-report", "log", "shutdown"});
  Capabilities worker({"log", "shutdown", "something-new"});
  EXPECT_THAT(runner.Intersect(worker).List(), ElementsAre("log", "shutdown"));
  EXPECT_THAT(worker.Intersect(runner).List(), ElementsAre("log", "shutdown"));
  EXPECT_THAT(runner.Intersect(Capabilities()).List(), IsEmpty());
}

}  // namespace
}  // namespace runner::workerproto
