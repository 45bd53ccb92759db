#include "routing/retry_policy.hpp"

#include <gtest/gtest.h>

namespace router {
namespace {

constexpr double T = 5'000'000;

TEST(RetryPolicy, RetriableOutcomes) {
  EXPECT_TRUE(RetryPolicy::retriable(AttemptOutcome::Threw, 0));
  EXPECT_TRUE(RetryPolicy::retriable(AttemptOutcome::TimedOut, 0));
  // 401 and 403 are the backend's own upstream credentials failing (contract section 3).
  for (uint32_t s : {401u, 403u, 429u, 500u, 502u, 503u, 504u})
    EXPECT_TRUE(RetryPolicy::retriable(AttemptOutcome::Answered, s)) << s;
  for (uint32_t s : {200u, 201u, 400u, 404u, 409u, 413u, 422u, 501u})
    EXPECT_FALSE(RetryPolicy::retriable(AttemptOutcome::Answered, s)) << s;
}

TEST(RetryPolicy, WhatCountsAgainstHealth) {
  EXPECT_EQ(RetryPolicy::health_result(AttemptOutcome::Threw, 0), AttemptResult::Failure);
  EXPECT_EQ(RetryPolicy::health_result(AttemptOutcome::TimedOut, 0), AttemptResult::Failure);
  for (uint32_t s : {401u, 403u, 502u, 503u, 504u})
    EXPECT_EQ(RetryPolicy::health_result(AttemptOutcome::Answered, s), AttemptResult::Failure) << s;
  EXPECT_EQ(RetryPolicy::health_result(AttemptOutcome::Answered, 500), AttemptResult::NotCounted);
  EXPECT_EQ(RetryPolicy::health_result(AttemptOutcome::Answered, 429), AttemptResult::RateLimited);
  EXPECT_EQ(RetryPolicy::health_result(AttemptOutcome::Answered, 400), AttemptResult::Success);
}

TEST(RetryPolicy, FullJitterBackoffStaysUnderTheGrowingCap) {
  RetryPolicy policy(RetryConfig{}, TimeoutConfig{});
  SplitMix64 rng(77);
  for (uint32_t revisit = 1; revisit <= 8; ++revisit) {
    double ceiling = std::min(250.0, 25.0 * (1 << (revisit - 1)));
    double max_seen = 0;
    for (int i = 0; i < 500; ++i) {
      double b = policy.backoff_ms(revisit, rng);
      EXPECT_GE(b, 0);
      EXPECT_LE(b, ceiling);
      max_seen = std::max(max_seen, b);
    }
    EXPECT_GT(max_seen, ceiling * 0.9) << "full jitter spans the whole range";
  }
}

TEST(RetryPolicy, TimeoutsAreClampedToTheDeadline) {
  TimeoutConfig t;
  t.per_try_ms = 1000;
  t.first_byte_ms = 300;
  t.request_ms = 5000;
  RetryPolicy policy(RetryConfig{}, t);
  EXPECT_EQ(policy.deadline(T), T + 5000);
  EXPECT_EQ(policy.attempt_timeout_ms(false, T, T + 5000), 1000);
  EXPECT_EQ(policy.attempt_timeout_ms(true, T, T + 5000), 300);
  EXPECT_EQ(policy.attempt_timeout_ms(false, T + 4600, T + 5000), 400);
  EXPECT_EQ(policy.attempt_timeout_ms(false, T + 6000, T + 5000), 0);
}

TEST(RetryState, PoolPrefersUntriedBackends) {
  RetryState state(4, T + 1000);
  state.attempt_started(1);
  state.attempt_finished(AttemptOutcome::Threw, 0, -1, T);
  bool revisit = true;
  EXPECT_EQ(state.pool({0, 1, 2}, revisit), (std::vector<uint32_t>{0, 2}));
  EXPECT_FALSE(revisit);
  state.attempt_started(0);
  state.attempt_started(2);
  EXPECT_EQ(state.pool({0, 1, 2}, revisit), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_TRUE(revisit);
  EXPECT_EQ(state.attempts(), 3u);
}

TEST(RetryState, OnlyRevisitsWaitAndNeverPastTheDeadline) {
  RetryPolicy policy(RetryConfig{}, TimeoutConfig{});
  SplitMix64 rng(3);
  RetryState state(2, T + 1000);
  state.attempt_started(0);
  state.attempt_finished(AttemptOutcome::Answered, 429, 400, T);  // Retry-After: 400 ms
  EXPECT_EQ(state.start_time(policy, 1, false, T, rng), T) << "a fresh backend is tried at once";
  auto revisit = state.start_time(policy, 0, true, T, rng);
  ASSERT_TRUE(revisit.has_value());
  EXPECT_GE(*revisit, T + 400) << "the backend's own Retry-After is honoured";
  // Retry-After beyond the deadline: no wait is decided.
  RetryState late(2, T + 1000);
  late.attempt_started(0);
  late.attempt_finished(AttemptOutcome::Answered, 503, 5000, T);
  EXPECT_FALSE(late.start_time(policy, 0, true, T, rng).has_value());
}

TEST(RetryBudget, AllowsTwentyPercentButAtLeastThree) {
  RetryBudget budget;
  budget.configure(20, 3);
  // 5 requests in flight: 20% is 1, the floor of 3 applies.
  EXPECT_TRUE(budget.try_acquire(5));
  EXPECT_TRUE(budget.try_acquire(5));
  EXPECT_TRUE(budget.try_acquire(5));
  EXPECT_FALSE(budget.try_acquire(5));
  // 30 in flight: 6 retries.
  EXPECT_TRUE(budget.try_acquire(30));
  EXPECT_TRUE(budget.try_acquire(30));
  EXPECT_TRUE(budget.try_acquire(30));
  EXPECT_FALSE(budget.try_acquire(30));
  EXPECT_EQ(budget.retries_in_flight(), 6u);
  budget.release();
  EXPECT_TRUE(budget.try_acquire(30));
}

}  // namespace
}  // namespace router

namespace router {
namespace {

// backoffBaseMs 0 (docs/configuration.md allows it) means no backoff at all.
TEST(RetryPolicy, AZeroBackoffBaseNeverWaits) {
  RetryConfig retry;
  retry.backoff_base_ms = 0;
  RetryPolicy policy(retry, TimeoutConfig{});
  SplitMix64 rng(5);
  for (uint32_t revisit = 1; revisit <= 6; ++revisit) EXPECT_EQ(policy.backoff_ms(revisit, rng), 0) << revisit;
}

// "nullopt when that moment is at or past the deadline": a wait ending exactly at the deadline
// leaves no time for the attempt.
TEST(RetryState, AStartExactlyAtTheDeadlineIsRefused) {
  RetryPolicy policy(RetryConfig{}, TimeoutConfig{});
  SplitMix64 rng(9);
  RetryState state(2, T + 1000);
  state.attempt_started(0);
  state.attempt_finished(AttemptOutcome::Answered, 429, 1000, T);  // Retry-After up to the deadline
  EXPECT_FALSE(state.start_time(policy, 0, true, T, rng).has_value());
  state.attempt_started(1);
  state.attempt_finished(AttemptOutcome::Answered, 429, 999, T);
  EXPECT_EQ(state.start_time(policy, 1, true, T, rng), T + 999) << "a millisecond earlier still fits";
}

// Backend indices past the end (the first one included) are ignored rather than trusted.
TEST(RetryState, OutOfRangeBackendsAreIgnored) {
  RetryPolicy policy(RetryConfig{}, TimeoutConfig{});
  SplitMix64 rng(4);
  RetryState state(2, T + 10000);
  state.attempt_started(2);
  state.attempt_finished(AttemptOutcome::Answered, 503, 500, T);
  EXPECT_FALSE(state.tried(2));
  EXPECT_EQ(state.attempts(), 1u);
  auto start = state.start_time(policy, 2, true, T, rng);
  ASSERT_TRUE(start.has_value());
  EXPECT_LE(*start, T + 25) << "no Retry-After was recorded for it: only the backoff";
  bool revisit = true;
  EXPECT_EQ(state.pool({0, 1}, revisit), (std::vector<uint32_t>{0, 1}));
  EXPECT_FALSE(revisit);
}

TEST(RetryBudget, AReleaseWithoutAnAcquireDoesNotWrap) {
  RetryBudget budget;
  budget.configure(20, 1);
  budget.release();
  EXPECT_EQ(budget.retries_in_flight(), 0u);
  EXPECT_TRUE(budget.try_acquire(1));
  EXPECT_FALSE(budget.try_acquire(1));
}

}  // namespace
}  // namespace router
