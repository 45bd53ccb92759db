#include "routing/peak_ewma.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <vector>

#include "routing/balancer.hpp"
#include "router_harness.hpp"

namespace router {
namespace {

constexpr double kT0 = 1'700'000'000'000;  // a fake clock, ms
constexpr double kTau = PeakEwma::kTauMs;

TEST(PeakEwma, NoSampleIsUnmeasured) {
  PeakEwma e;
  EXPECT_FALSE(e.measured());
  EXPECT_EQ(e.estimate(kT0), PeakEwma::kUnmeasured);
  e.observe(300, kT0);
  EXPECT_TRUE(e.measured());
  EXPECT_DOUBLE_EQ(e.estimate(kT0), 300);
}

// A slower sample is taken at once, however recent the last one.
TEST(PeakEwma, ASlowerSampleIsTheNewEstimateAtOnce) {
  PeakEwma e;
  e.observe(100, kT0);
  e.observe(900, kT0 + 1);
  EXPECT_DOUBLE_EQ(e.estimate(kT0 + 1), 900);
}

// A faster sample moves the estimate by 1 - exp(-elapsed / tau): little soon after, most later.
TEST(PeakEwma, AFasterSampleCountsByTheTimeSinceTheLast) {
  PeakEwma soon, late;
  soon.observe(1000, kT0);
  late.observe(1000, kT0);
  soon.observe(100, kT0 + 100);
  late.observe(100, kT0 + 3 * kTau);
  const double w_soon = std::exp(-100 / kTau), w_late = std::exp(-3.0);
  EXPECT_DOUBLE_EQ(soon.estimate(kT0 + 100), 1000 * w_soon + 100 * (1 - w_soon));
  EXPECT_DOUBLE_EQ(late.estimate(kT0 + 3 * kTau), 1000 * w_late + 100 * (1 - w_late));
  EXPECT_GT(soon.estimate(kT0 + 100), 990);
  EXPECT_LT(late.estimate(kT0 + 3 * kTau), 150);
}

// Many fast samples after a peak bring the estimate down to them, at the pace of tau.
TEST(PeakEwma, AfterAPeakTheEstimateFollowsFasterSamples) {
  PeakEwma e;
  e.observe(5000, kT0);
  double now = kT0;
  for (int i = 0; i < 100; ++i) e.observe(200, now += 1000);  // 100 s of a sample a second
  EXPECT_NEAR(e.estimate(now), 200, 1);
  EXPECT_GE(e.estimate(now), 200);
}

// Read later, the estimate decays toward zero: exp(-t / tau) of it after t without a sample.
TEST(PeakEwma, ReadLaterTheEstimateDecaysTowardZero) {
  PeakEwma e;
  e.observe(800, kT0);
  EXPECT_DOUBLE_EQ(e.estimate(kT0 + kTau), 800 * std::exp(-1.0));
  EXPECT_DOUBLE_EQ(e.estimate(kT0 + 2 * kTau), 800 * std::exp(-2.0));
  // Reading does not change it: a sample later still starts from 800.
  e.observe(400, kT0 + kTau);
  EXPECT_DOUBLE_EQ(e.estimate(kT0 + kTau), 800 * std::exp(-1.0) + 400 * (1 - std::exp(-1.0)));
  // A day later the weight underflows to 0, and the estimate is 0, not NaN.
  EXPECT_EQ(e.estimate(kT0 + 86'400'000), 0);
}

TEST(PeakEwma, NonFiniteAndNegativeSamplesAreIgnored) {
  PeakEwma e;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (double bad : {nan, inf, -inf, -5.0}) e.observe(bad, kT0);
  EXPECT_FALSE(e.measured());
  e.observe(300, kT0);
  for (double bad : {nan, inf, -inf, -5.0}) e.observe(bad, kT0 + 10);
  e.observe(300, nan);  // nor a sample without a usable time
  EXPECT_DOUBLE_EQ(e.estimate(kT0), 300);
  // A clock that stepped back reads as no time elapsed.
  EXPECT_DOUBLE_EQ(e.estimate(kT0 - 5000), 300);
  e.observe(100, kT0 - 5000);
  EXPECT_DOUBLE_EQ(e.estimate(kT0 - 5000), 300);
}

// A failure counts as its timeout (or its elapsed time if longer): fast failures do not look fast.
TEST(PeakEwma, AFailureIsSampledAsItsTimeout) {
  PeakEwma e;
  e.observe(300, kT0);
  e.observe_failure(5, 60000, kT0 + 10);
  EXPECT_DOUBLE_EQ(e.estimate(kT0 + 10), 60000);
  PeakEwma late;
  late.observe_failure(70000, 60000, kT0);
  EXPECT_DOUBLE_EQ(late.estimate(kT0), 70000);
  PeakEwma no_timeout;
  no_timeout.observe_failure(40, std::nan(""), kT0);
  EXPECT_DOUBLE_EQ(no_timeout.estimate(kT0), 40);
}

TEST(PeakEwma, CostGrowsWithInFlightAndShrinksWithWeight) {
  EXPECT_DOUBLE_EQ(PeakEwma::cost(200, 0, 1), 200);
  EXPECT_DOUBLE_EQ(PeakEwma::cost(200, 3, 1), 800);
  EXPECT_DOUBLE_EQ(PeakEwma::cost(200, 3, 4), 200);
  // A backend 5x slower costs less than a fast one only with 5x the fast one's queue.
  EXPECT_LT(PeakEwma::cost(1500, 0, 1), PeakEwma::cost(300, 5, 1));
  EXPECT_GT(PeakEwma::cost(1500, 1, 1), PeakEwma::cost(300, 5, 1));
}

// No division by zero: a weight that is not positive and finite counts as 1; an estimate that is
// not a finite number >= 0 counts as 0. The cost is never NaN (at worst +inf, which still orders).
TEST(PeakEwma, CostIsFiniteForAnyInput) {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (double weight : {0.0, -1.0, nan, inf}) EXPECT_DOUBLE_EQ(PeakEwma::cost(200, 1, weight), 400) << weight;
  for (double est : {nan, inf, -1.0}) EXPECT_DOUBLE_EQ(PeakEwma::cost(est, 1, 1), 0) << est;
  EXPECT_TRUE(std::isfinite(PeakEwma::cost(86'400'000, UINT32_MAX, 1e-6)));  // a day, every slot, tiny weight
  EXPECT_EQ(PeakEwma::cost(1e300, UINT32_MAX, 1e-300), inf);
  EXPECT_EQ(PeakEwma::cost(0, UINT32_MAX, 1e-300), 0);
}

TEST(PeakEwma, AnUnmeasuredBackendStandsInAtTheOtherEstimate) {
  EXPECT_EQ(PeakEwma::stand_in(250, 900), 250);
  EXPECT_EQ(PeakEwma::stand_in(PeakEwma::kUnmeasured, 900), 900);
  EXPECT_EQ(PeakEwma::stand_in(PeakEwma::kUnmeasured, 0), 0);
  EXPECT_EQ(PeakEwma::stand_in(PeakEwma::kUnmeasured, PeakEwma::kUnmeasured), PeakEwma::kNeutralMs);
}

// --- the peak-ewma strategy in the Balancer ---

// A candidate whose estimator took `ms` at kT0 (PeakEwma::kUnmeasured: no estimator, never
// sampled); the picks read them at kT0, so its estimate is `ms`. The estimators outlive the test.
Candidate at(uint32_t index, double weight, uint32_t in_flight, double ms) {
  static std::deque<PeakEwma> estimators;
  if (ms == PeakEwma::kUnmeasured) return {index, weight, in_flight};
  estimators.emplace_back().observe(ms, kT0);
  return {index, weight, in_flight, &estimators.back()};
}

Balancer peak_ewma_balancer(size_t n) {
  Balancer b;
  b.set_strategy(Strategy::PeakEwma);
  b.reset(n);
  return b;
}

TEST(PeakEwmaBalancer, PrefersTheFastBackend) {
  Balancer b = peak_ewma_balancer(3);
  SplitMix64 rng(2024);
  // Backend 0 is 5x slower; none has anything in flight.
  std::vector<Candidate> c = {at(0, 1, 0, 1500), at(1, 1, 0, 300), at(2, 1, 0, 310)};
  std::map<uint32_t, int> counts;
  for (int i = 0; i < 3000; ++i) counts[*b.pick(c, rng, kT0)]++;
  // The slow one never wins a pair; backend 1 wins both pairs it is in, backend 2 one of its two.
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1], 2000, 150);
  EXPECT_NEAR(counts[2], 1000, 150);
}

TEST(PeakEwmaBalancer, LoadOutweighsASmallLatencyAdvantage) {
  Balancer b = peak_ewma_balancer(2);
  SplitMix64 rng(5);
  // 300 ms x (3 + 1) = 1200 > 1000 ms x (0 + 1): the slower idle one wins...
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({at(0, 1, 3, 300), at(1, 1, 0, 1000)}, rng, kT0), 1u);
  // ...unless its weight makes the fast one's queue light enough: 1200 / 2 < 1000.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({at(0, 2, 3, 300), at(1, 1, 0, 1000)}, rng, kT0), 0u);
}

TEST(PeakEwmaBalancer, AnUnmeasuredBackendIsTriedWhenLessLoaded) {
  Balancer b = peak_ewma_balancer(2);
  SplitMix64 rng(9);
  const double none = PeakEwma::kUnmeasured;
  // Costed at the other's 300 ms: less loaded wins, more loaded loses (not flooded).
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({at(0, 1, 2, 300), at(1, 1, 0, none)}, rng, kT0), 1u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({at(0, 1, 0, 300), at(1, 1, 2, none)}, rng, kT0), 0u);
  // Neither measured: by in-flight per weight.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({at(0, 1, 1, none), at(1, 1, 0, none)}, rng, kT0), 1u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({at(0, 3, 1, none), at(1, 1, 0, none)}, rng, kT0), 0u);
}

TEST(PeakEwmaBalancer, TiesGoToTheLessLoadedThenToEither) {
  Balancer b = peak_ewma_balancer(2);
  SplitMix64 rng(11);
  // Both estimates decayed to 0: equal costs; the one with less in flight wins.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({at(0, 1, 4, 0), at(1, 1, 1, 0)}, rng, kT0), 1u);
  // Identical candidates: either, drawn at random (both show up).
  std::map<uint32_t, int> counts;
  for (int i = 0; i < 200; ++i) counts[*b.pick({at(0, 1, 0, 300), at(1, 1, 0, 300)}, rng, kT0)]++;
  EXPECT_GT(counts[0], 50);
  EXPECT_GT(counts[1], 50);
  // One candidate: it, whatever its cost.
  EXPECT_EQ(*b.pick({at(7, 1, 100, 1e9)}, rng, kT0), 7u);
  EXPECT_FALSE(b.pick({}, rng, kT0).has_value());
}

// The pick reads each estimate at its `now`: a slow backend not measured for a while is tried again.
TEST(PeakEwmaBalancer, AnEstimateNotRenewedDecaysSoTheBackendIsTriedAgain) {
  Balancer b = peak_ewma_balancer(2);
  SplitMix64 rng(13);
  PeakEwma slow, fast;
  slow.observe(1500, kT0);
  fast.observe(300, kT0);
  const std::vector<Candidate> c = {{0, 1, 0, &slow}, {1, 1, 0, &fast}};
  EXPECT_EQ(*b.pick(c, rng, kT0), 1u);
  fast.observe(300, kT0 + 3 * kTau);  // fast keeps being measured; slow's 1500 is now 1500 e^-3 = 75
  EXPECT_EQ(*b.pick(c, rng, kT0 + 3 * kTau), 0u);
}

// The same seed draws the same pairs as least-inflight; with equal estimates and these loads (in
// the same order by in-flight per weight and by in-flight + 1 per weight) the picks coincide.
TEST(PeakEwmaBalancer, DrawsThePairsLeastInflightDraws) {
  Balancer p = peak_ewma_balancer(4), l;
  l.set_strategy(Strategy::LeastInflight);
  l.reset(4);
  SplitMix64 rng_p(77), rng_l(77);
  std::vector<Candidate> c = {at(0, 1, 3, 400), at(1, 1, 0, 400), at(2, 2, 5, 400), at(3, 1, 1, 400)};
  for (int i = 0; i < 200; ++i) EXPECT_EQ(*p.pick(c, rng_p, kT0), *l.pick(c, rng_l, kT0));
}

// --- through the Router: samples from each attempt's outcome, estimates in the candidates ---

// Minutes of simulated time pass: keep describe() answers for a day so no request waits on one.
const std::string kNoRediscovery = R"("discovery":{"describeTtlMs":86400000}})";

// Sequential requests; backend 0 answers after slow_ms, the others after 300 ms (or backend 0
// throws after 5 ms when slow_ms < 0). Returns how many attempts each backend got.
std::vector<int> serve_sequentially(testing::RouterHarness& h, size_t backends, int requests, double slow_ms) {
  std::vector<int> attempts(backends, 0);
  for (int r = 0; r < requests; ++r) {
    auto [e, action] = h.post(testing::chat_body());
    while (kind(action) == ActionKind::Call || kind(action) == ActionKind::Wait) {
      if (kind(action) == ActionKind::Wait) {  // a retry's backoff
        h.now = std::get<Wait>(action).until;
        action = h.exchange(e).resume(h.now);
        continue;
      }
      const uint32_t b = testing::backend_of(action);
      attempts[b]++;
      if (b == 0 && slow_ms < 0) {
        h.now += 5;
        action = h.threw(e);
      } else {
        h.now += b == 0 ? slow_ms : 300;
        action = h.answered(e, 200);
      }
    }
    EXPECT_EQ(kind(action), ActionKind::Forward);
    h.end(e);
    h.now += 50;
  }
  return attempts;
}

TEST(PeakEwmaRouter, ASlowBackendGetsLittleTraffic) {
  testing::RouterHarness h;
  h.backends(3, R"({"strategy":"peak-ewma",)" + kNoRediscovery);
  const std::vector<int> attempts = serve_sequentially(h, 3, 600, 1500);
  EXPECT_LT(attempts[0], 600 / 10) << "backend 0 is 5x slower";
  EXPECT_GT(attempts[1], 200);
  EXPECT_GT(attempts[2], 200);
  EXPECT_TRUE(h.router.health()[0].peak_ewma.measured());
}

// Failures are sampled as the attempt's timeout: a backend that throws at once is not taken for
// the fastest (health ejection is kept out of the way here by a high consecutiveFailures).
TEST(PeakEwmaRouter, AFailingFastBackendDoesNotLookFast) {
  testing::RouterHarness h;
  h.backends(2, R"({"strategy":"peak-ewma","health":{"consecutiveFailures":1000},)" + kNoRediscovery);
  const std::vector<int> attempts = serve_sequentially(h, 2, 100, -1);
  EXPECT_LE(attempts[0], 3) << "after its first failure backend 0 costs a whole per-try timeout";
  EXPECT_EQ(attempts[1], 100);
}

// Under the other strategies nothing is sampled (their cost is unchanged).
TEST(PeakEwmaRouter, OtherStrategiesKeepNoEstimate) {
  for (const char* config : {R"({"strategy":"round-robin"})", R"({"strategy":"least-inflight"})"}) {
    testing::RouterHarness h;
    h.backends(3, config);
    serve_sequentially(h, 3, 30, 1500);
    for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(h.router.health()[i].peak_ewma.measured()) << config;
  }
}

}  // namespace
}  // namespace router
