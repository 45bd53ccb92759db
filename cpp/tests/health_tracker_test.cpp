#include "routing/health_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace router {
namespace {

constexpr double T = 1'000'000;

std::vector<std::string> names(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back("BACKEND_" + std::to_string(i));
  return out;
}

struct Tracker {
  LogBuffer logs;
  HealthTracker health;
  explicit Tracker(size_t n, HealthConfig config = {}) : health(config, &logs) { health.reset(names(n)); }
  void fail(size_t i, double now, int times = 1, AttemptResult r = AttemptResult::Failure) {
    for (int k = 0; k < times; ++k) {
      health.attempt_started(i);
      health.attempt_finished(i, r, now);
    }
  }
};

TEST(HealthTracker, EjectsAfterConsecutiveFailuresAndReturnsAtTheExactTime) {
  Tracker t(4);
  t.fail(0, T, 4);
  EXPECT_EQ(t.health.state(0, T), BackendState::Healthy);
  t.fail(0, T + 10);
  EXPECT_EQ(t.health.state(0, T + 10), BackendState::Ejected);
  EXPECT_EQ(t.health.until(0), T + 10 + 30000);
  EXPECT_FALSE(t.health.healthy(0, T + 10 + 29999));
  EXPECT_TRUE(t.health.healthy(0, T + 10 + 30000));
  t.health.refresh(T + 10 + 30000);
  EXPECT_EQ(t.health[0].state, BackendState::Healthy);
  EXPECT_EQ(t.health[0].consecutive_failures, 0u);
  std::string logs = t.logs.drain();
  EXPECT_NE(logs.find("\"event\":\"backend_ejected\""), std::string::npos);
  EXPECT_NE(logs.find("\"event\":\"backend_returned\""), std::string::npos);
}

TEST(HealthTracker, SuccessAndUncountedOutcomesResetOrKeepTheStreak) {
  Tracker t(4);
  t.fail(1, T, 4);
  t.fail(1, T, 1, AttemptResult::Success);
  t.fail(1, T, 4);
  EXPECT_TRUE(t.health.healthy(1, T));
  // 500 and 429 are not counted: the streak continues past them but they do not add to it.
  t.fail(1, T, 3, AttemptResult::NotCounted);
  EXPECT_EQ(t.health[1].consecutive_failures, 4u);
  t.fail(1, T, 1);
  EXPECT_EQ(t.health.state(1, T), BackendState::Ejected);
  EXPECT_EQ(t.health[1].attempts, 13u);
  EXPECT_EQ(t.health[1].successes, 1u);
  EXPECT_EQ(t.health[1].failures, 9u) << "the 500s are counted apart";
  EXPECT_EQ(t.health[1].server_errors, 3u);
  EXPECT_EQ(t.health[1].in_flight, 0u);
}

TEST(HealthTracker, EjectionGrowsWithEachEjectionAndIsCapped) {
  Tracker t(2, HealthConfig{});
  double now = T;
  std::vector<double> durations;
  for (int round = 0; round < 12; ++round) {
    t.fail(0, now, 5);
    ASSERT_EQ(t.health.state(0, now), BackendState::Ejected);
    durations.push_back(t.health.until(0) - now);
    now = t.health.until(0);
    t.health.refresh(now);
  }
  for (size_t k = 0; k < durations.size(); ++k)
    EXPECT_EQ(durations[k], std::min(30000.0 * static_cast<double>(k + 1), 300000.0)) << "ejection " << k + 1;
}

TEST(HealthTracker, AnOldEjectionIsForgotten) {
  Tracker t(2);
  t.fail(0, T, 5);
  double back = t.health.until(0);
  t.health.refresh(back);
  // Long healthy (>= max ejection time): the next ejection starts from the base again.
  double later = back + 300000;
  t.fail(0, later, 5);
  EXPECT_EQ(t.health.until(0) - later, 30000);
}

TEST(HealthTracker, NeverEjectsMoreThanTheMaxPercent) {
  Tracker t(4);  // 50% of 4 = 2
  for (size_t i = 0; i < 4; ++i) t.fail(i, T, 5);
  EXPECT_EQ(t.health.ejected_count(), 2u);
  EXPECT_TRUE(t.health.healthy(2, T));
  EXPECT_TRUE(t.health.healthy(3, T));
  // Once one returns, the next failing backend may be ejected.
  t.health.refresh(T + 30000);
  t.fail(2, T + 30000, 1);
  EXPECT_EQ(t.health.state(2, T + 30000), BackendState::Ejected);

  Tracker lone(1);  // 50% of 1 backend is less than one backend
  lone.fail(0, T, 20);
  EXPECT_TRUE(lone.health.healthy(0, T));

  HealthConfig all;
  all.max_ejection_percent = 100;
  Tracker every(3, all);
  for (size_t i = 0; i < 3; ++i) every.fail(i, T, 5);
  EXPECT_EQ(every.health.ejected_count(), 3u);
}

TEST(HealthTracker, RateLimitCooldownLastsItsRetryAfter) {
  Tracker t(3);
  t.health.attempt_started(0);
  t.health.attempt_finished(0, AttemptResult::RateLimited, T, 2000);
  EXPECT_EQ(t.health.state(0, T), BackendState::Cooldown);
  EXPECT_EQ(t.health.state(0, T + 1999), BackendState::Cooldown);
  EXPECT_EQ(t.health.state(0, T + 2000), BackendState::Healthy);
  EXPECT_EQ(t.health[0].consecutive_failures, 0u) << "a 429 is not a failure";
  EXPECT_EQ(t.health[0].failures, 0u);
  EXPECT_EQ(t.health[0].rate_limited, 1u);
  // Without Retry-After: the default cooldown.
  t.health.attempt_started(1);
  t.health.attempt_finished(1, AttemptResult::RateLimited, T, -1);
  EXPECT_EQ(t.health.until(1), T + HealthTracker::kDefaultCooldownMs);
}

// A second guard for the cap (issue 10): the ended ejections must not count even though nothing
// refreshed the tracker since they ended.
TEST(HealthTracker, EndedEjectionsDoNotCountAgainstTheCapWithoutARefresh) {
  Tracker t(4);  // 50% of 4 = 2
  for (size_t i = 0; i < 4; ++i) t.fail(i, T, 5);
  ASSERT_EQ(t.health.ejected_count(), 2u);
  t.fail(2, T + 30000, 1);
  EXPECT_EQ(t.health.state(2, T + 30000), BackendState::Ejected);
}

TEST(HealthTracker, ALaterShorter429DoesNotShortenACooldown) {
  Tracker t(2);
  t.health.attempt_started(0);
  t.health.attempt_finished(0, AttemptResult::RateLimited, T, 5000);
  t.health.attempt_started(0);
  t.health.attempt_finished(0, AttemptResult::RateLimited, T + 100, 1000);
  EXPECT_EQ(t.health.until(0), T + 5000);
  EXPECT_EQ(t.health.state(0, T + 4999), BackendState::Cooldown);
  t.health.attempt_started(0);
  t.health.attempt_finished(0, AttemptResult::RateLimited, T + 200, 8000);
  EXPECT_EQ(t.health.until(0), T + 8200) << "a longer one extends it";
}

TEST(HealthTracker, NextReturnIsTheEarliestEnd) {
  Tracker t(4);
  t.health.attempt_started(0);
  t.health.attempt_finished(0, AttemptResult::RateLimited, T, 5000);
  t.health.attempt_started(1);
  t.health.attempt_finished(1, AttemptResult::RateLimited, T, 3000);
  EXPECT_EQ(t.health.next_return({0, 1}, T), T + 3000);
  EXPECT_EQ(t.health.next_return({0, 1, 2}, T), T);
}

TEST(HealthTracker, InFlightCountsAttemptsUntilTheyFinish) {
  Tracker t(2);
  t.health.attempt_started(0);
  t.health.attempt_started(0);
  EXPECT_EQ(t.health[0].in_flight, 2u);
  t.health.attempt_finished(0, AttemptResult::Abandoned, T);
  EXPECT_EQ(t.health[0].in_flight, 1u);
  EXPECT_EQ(t.health[0].successes + t.health[0].failures, 0u);
  t.health.attempt_finished(0, AttemptResult::Success, T);
  EXPECT_EQ(t.health[0].in_flight, 0u);
  // Out-of-range indices are ignored rather than trusted (the first one past the end included).
  for (size_t i : {size_t{2}, size_t{7}}) {
    t.health.attempt_started(i);
    t.health.attempt_finished(i, AttemptResult::Failure, T);
    EXPECT_EQ(t.health.state(i, T), BackendState::Healthy);
    EXPECT_EQ(t.health.until(i), 0);
  }
  // A finish nobody started (a duplicate) cannot make the count wrap below zero.
  t.health.attempt_finished(1, AttemptResult::Success, T);
  EXPECT_EQ(t.health[1].in_flight, 0u);
}

// Retry-After: 0 asks for no wait at all: the backend is not put in cooldown.
TEST(HealthTracker, A429WithRetryAfterZeroIsNoCooldown) {
  Tracker t(2);
  t.health.attempt_started(0);
  t.health.attempt_finished(0, AttemptResult::RateLimited, T, 0);
  EXPECT_EQ(t.health.state(0, T), BackendState::Healthy);
  EXPECT_EQ(t.health[0].rate_limited, 1u);
}

// docs/reliability.md: `backend_cooldown` (with `ms`) when a cooldown starts, and
// `ejection_skipped_max_percent` when the cap keeps a failing backend in.
TEST(HealthTracker, CooldownsAndSkippedEjectionsAreLogged) {
  Tracker t(2);
  t.health.attempt_started(1);
  t.health.attempt_finished(1, AttemptResult::RateLimited, T, 2000);
  std::string logs = t.logs.drain();
  EXPECT_NE(logs.find("\"event\":\"backend_cooldown\""), std::string::npos) << logs;
  EXPECT_NE(logs.find("\"backend\":\"BACKEND_1\""), std::string::npos) << logs;
  EXPECT_NE(logs.find("\"ms\":2000"), std::string::npos) << logs;
  // Another 429 during the cooldown is not a new cooldown: no second line.
  t.health.attempt_started(1);
  t.health.attempt_finished(1, AttemptResult::RateLimited, T + 500, 3000);
  EXPECT_EQ(t.logs.drain().find("backend_cooldown"), std::string::npos);
  // The cooldown ended at T + 3500: a 429 then starts (and logs) a new one.
  t.health.attempt_started(1);
  t.health.attempt_finished(1, AttemptResult::RateLimited, T + 3500, 1000);
  logs = t.logs.drain();
  EXPECT_NE(logs.find("\"event\":\"backend_cooldown\""), std::string::npos) << logs;
  EXPECT_NE(logs.find("\"ms\":1000"), std::string::npos) << logs;

  Tracker lone(1);  // 50% of one backend: it can never be ejected
  lone.fail(0, T, 5);
  logs = lone.logs.drain();
  EXPECT_NE(logs.find("\"event\":\"ejection_skipped_max_percent\""), std::string::npos) << logs;
  EXPECT_EQ(logs.find("backend_ejected"), std::string::npos) << logs;
}

// A backend that came back starts a new streak (one failure does not eject it again), and a new
// streak ejects it again, for longer. Backend 1, so every backend is refreshed, not only the first.
TEST(HealthTracker, AReturnedBackendStartsAFreshStreakAndCanBeEjectedAgain) {
  Tracker t(4);
  t.fail(1, T, 5);
  ASSERT_EQ(t.health.state(1, T), BackendState::Ejected);
  const double back = T + 30000;
  t.fail(1, back, 1);
  EXPECT_EQ(t.health.state(1, back), BackendState::Healthy);
  EXPECT_EQ(t.health[1].consecutive_failures, 1u);
  EXPECT_NE(t.logs.drain().find("\"event\":\"backend_returned\",\"backend\":\"BACKEND_1\""), std::string::npos);
  t.fail(1, back, 4);
  EXPECT_EQ(t.health.state(1, back), BackendState::Ejected);
  EXPECT_EQ(t.health.until(1), back + 60000) << "the second ejection lasts 2 x 30 s";
}

}  // namespace
}  // namespace router
