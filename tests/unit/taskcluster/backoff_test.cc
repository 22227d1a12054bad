#include "server/taskcluster/backoff.h"

#include <optional>
#include <vector>

#include "gtest/gtest.h"

#include "tests/unit/taskcluster/test_support.h"

namespace runner::taskcluster {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

TEST(BackoffTest, GrowsByHalfWithoutJitterAtMidpoint) {
  ManualClock clock(kStart);
  FixedRandom random(0.5);
  Backoff backoff(BackoffPolicy{}, &clock, &random);
  const std::vector<absl::Duration> expected = {
      absl::Milliseconds(500), absl::Milliseconds(750), absl::Microseconds(1125000),
      absl::Microseconds(1687500), absl::Microseconds(2531250)};
  for (absl::Duration want : expected) {
    std::optional<absl::Duration> delay = backoff.NextDelay();
    ASSERT_TRUE(delay.has_value());
    EXPECT_EQ(*delay, want);
  }
}

TEST(BackoffTest, JitterSpansHalfBelowToHalfAbove) {
  ManualClock clock(kStart);
  FixedRandom low(0.0);
  Backoff at_low(BackoffPolicy{}, &clock, &low);
  EXPECT_EQ(*at_low.NextDelay(), absl::Milliseconds(250));
  EXPECT_EQ(*at_low.NextDelay(), absl::Microseconds(375000));

  FixedRandom high(0.75);
  Backoff at_high(BackoffPolicy{}, &clock, &high);
  EXPECT_EQ(*at_high.NextDelay(), absl::Microseconds(625000));
  EXPECT_EQ(*at_high.NextDelay(), absl::Microseconds(937500));
}

TEST(BackoffTest, CapsIntervalBeforeJitter) {
  ManualClock clock(kStart);
  FixedRandom random(0.5);
  Backoff backoff(BackoffPolicy{}, &clock, &random);
  // 0.5 s * 1.5^11 = 43.25 s is the last uncapped interval; the 13th delay sits on the cap.
  for (int i = 0; i < 12; ++i) {
    ASSERT_LT(*backoff.NextDelay(), absl::Seconds(60));
    EXPECT_FALSE(backoff.at_ceiling());
  }
  EXPECT_EQ(*backoff.NextDelay(), absl::Seconds(60));
  EXPECT_TRUE(backoff.at_ceiling());
  EXPECT_EQ(*backoff.NextDelay(), absl::Seconds(60));
}

TEST(BackoffTest, JitterAtCeilingReachesNinetySeconds) {
  ManualClock clock(kStart);
  FixedRandom random(0.999999);
  Backoff backoff(BackoffPolicy{}, &clock, &random);
  absl::Duration delay;
  for (int i = 0; i < 20; ++i) delay = *backoff.NextDelay();
  EXPECT_GT(delay, absl::Seconds(89));
  EXPECT_LT(delay, absl::Seconds(90));
}

TEST(BackoffTest, GivesUpOnceFifteenMinutesHaveElapsed) {
  ManualClock clock(kStart);
  FixedRandom random(0.5);
  Backoff backoff(BackoffPolicy{}, &clock, &random);
  int delays = 0;
  while (std::optional<absl::Duration> delay = backoff.NextDelay()) {
    clock.Advance(*delay);
    ++delays;
  }
  // 12 growing delays (128.75 s in total), then 60 s each until 900 s have passed.
  EXPECT_EQ(delays, 25);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.elapsed()), 128.746337890625 + 13 * 60.0, 1e-6);
}

TEST(BackoffTest, BudgetBoundaryIsInclusive) {
  ManualClock clock(kStart);
  FixedRandom random(0.5);
  Backoff backoff(BackoffPolicy{}, &clock, &random);
  clock.Advance(absl::Minutes(15) - absl::Nanoseconds(1));
  EXPECT_TRUE(backoff.NextDelay().has_value());
  clock.Advance(absl::Nanoseconds(1));
  EXPECT_FALSE(backoff.NextDelay().has_value());
}

TEST(BackoffTest, UsesPolicyValues) {
  ManualClock clock(kStart);
  FixedRandom random(0.5);
  BackoffPolicy policy;
  policy.initial_interval = absl::Seconds(1);
  policy.multiplier = 2.0;
  policy.max_interval = absl::Seconds(3);
  policy.max_elapsed = absl::Seconds(10);
  Backoff backoff(policy, &clock, &random);
  std::vector<absl::Duration> got;
  while (std::optional<absl::Duration> delay = backoff.NextDelay()) {
    got.push_back(*delay);
    clock.Advance(*delay);
  }
  EXPECT_EQ(got, (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(2), absl::Seconds(3),
                                              absl::Seconds(3), absl::Seconds(3)}));
}

}  // namespace
}  // namespace runner::taskcluster
