#include "routing/balancer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "router_harness.hpp"

namespace router {
namespace {

std::vector<Candidate> equal(size_t n) {
  std::vector<Candidate> c;
  for (uint32_t i = 0; i < n; ++i) c.push_back({i, 1, 0});
  return c;
}

TEST(Balancer, RoundRobinIsFairForEveryPrefix) {
  for (size_t n = 1; n <= 6; ++n) {
    for (uint64_t seed : {1u, 7u, 99u}) {
      Balancer b;
      b.reset(n);
      b.seed_once(seed);
      SplitMix64 rng(seed);
      std::vector<int> counts(n, 0);
      const int m = 5;
      for (size_t k = 1; k <= m * n; ++k) {
        counts[*b.pick(equal(n), rng)]++;
        // After k picks every backend has floor(k/n) or ceil(k/n).
        for (size_t i = 0; i < n; ++i) {
          EXPECT_GE(counts[i], static_cast<int>(k / n)) << "n=" << n << " k=" << k;
          EXPECT_LE(counts[i], static_cast<int>((k + n - 1) / n)) << "n=" << n << " k=" << k;
        }
      }
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(counts[i], m);
    }
  }
}

TEST(Balancer, WeightsAreRespectedWithinOneRequestOfTheIdeal) {
  const std::vector<std::vector<double>> cases = {{5, 1, 1}, {3, 2}, {1, 2, 3, 4}, {10, 1}, {0.5, 1.5}, {7, 7, 1}};
  for (const auto& weights : cases) {
    Balancer b;
    b.reset(weights.size());
    b.seed_once(42);
    SplitMix64 rng(1);
    std::vector<Candidate> c;
    double total = 0;
    for (uint32_t i = 0; i < weights.size(); ++i) {
      c.push_back({i, weights[i], 0});
      total += weights[i];
    }
    std::vector<int> counts(weights.size(), 0);
    for (int k = 1; k <= 400; ++k) {
      counts[*b.pick(c, rng)]++;
      for (size_t i = 0; i < weights.size(); ++i) {
        double ideal = k * weights[i] / total;
        EXPECT_LE(std::fabs(counts[i] - ideal), 1.0) << "weights case " << weights.size() << " k=" << k << " i=" << i;
      }
    }
  }
}

TEST(Balancer, StartOffsetDependsOnTheSeed) {
  std::set<uint32_t> first_picks;
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    Balancer b;
    b.reset(4);
    b.seed_once(seed);
    SplitMix64 rng(seed);
    first_picks.insert(*b.pick(equal(4), rng));
  }
  EXPECT_EQ(first_picks.size(), 4u) << "isolates with different seeds must not all start on one backend";
}

TEST(Balancer, OnlyTheFirstSeedCounts) {
  Balancer a, b;
  a.reset(5);
  b.reset(5);
  a.seed_once(3);
  b.seed_once(3);
  b.seed_once(12345);  // ignored
  SplitMix64 r1(0), r2(0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*a.pick(equal(5), r1), *b.pick(equal(5), r2));
}

TEST(Balancer, PicksOnlyAmongCandidates) {
  Balancer b;
  b.reset(6);
  b.seed_once(9);
  SplitMix64 rng(9);
  std::vector<Candidate> subset = {{1, 1, 0}, {4, 1, 0}};
  for (int i = 0; i < 50; ++i) {
    uint32_t p = *b.pick(subset, rng);
    EXPECT_TRUE(p == 1 || p == 4);
  }
  EXPECT_FALSE(b.pick({}, rng).has_value());
}

TEST(Balancer, LeastInflightPrefersTheLessLoaded) {
  Balancer b;
  b.set_strategy(Strategy::LeastInflight);
  b.reset(4);
  SplitMix64 rng(2024);
  std::vector<Candidate> c = {{0, 1, 9}, {1, 1, 0}, {2, 1, 9}, {3, 1, 100}};
  std::map<uint32_t, int> counts;
  for (int i = 0; i < 3000; ++i) counts[*b.pick(c, rng)]++;
  // The idle one wins whenever it is drawn (half the time); the busiest never wins a pair;
  // the two equally loaded share the rest.
  EXPECT_EQ(counts[3], 0);
  EXPECT_NEAR(counts[1], 1500, 150);
  EXPECT_NEAR(counts[0], 750, 150);
  EXPECT_NEAR(counts[2], 750, 150);
  // Two candidates: always the less loaded.
  for (int i = 0; i < 50; ++i) EXPECT_EQ(*b.pick({{0, 1, 5}, {1, 1, 2}}, rng), 1u);
}

TEST(Balancer, LeastInflightWeighsLoadByWeight) {
  Balancer b;
  b.set_strategy(Strategy::LeastInflight);
  b.reset(2);
  SplitMix64 rng(5);
  // 4 in flight at weight 4 is lighter than 2 in flight at weight 1.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(*b.pick({{0, 4, 4}, {1, 1, 2}}, rng), 0u);
}

TEST(Balancer, RouterSpreadsRequestsEvenly) {
  testing::RouterHarness h;
  h.backends(3);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30; ++i) counts[h.serve_one()]++;
  EXPECT_EQ(counts, (std::vector<int>{10, 10, 10}));
}

TEST(Balancer, RouterHonoursDescribedWeights) {
  testing::RouterHarness h;
  h.backends(2, "", {3, 1});
  std::vector<int> counts(2, 0);
  for (int i = 0; i < 40; ++i) counts[h.serve_one()]++;
  EXPECT_EQ(counts, (std::vector<int>{30, 10}));
}

// pick() takes any candidate indices: a Balancer nobody reset grows its state for them.
TEST(Balancer, AFreshBalancerNeedsNoReset) {
  Balancer b;
  SplitMix64 rng(3);
  std::vector<int> counts(3, 0);
  for (int k = 1; k <= 30; ++k) {
    counts[*b.pick(equal(3), rng)]++;
    for (int c : counts) EXPECT_LE(c, (k + 2) / 3) << "k=" << k;
  }
  EXPECT_EQ(counts, (std::vector<int>{10, 10, 10}));
}

// A new backend list starts round-robin afresh: the old list's positions do not skew the new one.
TEST(Balancer, ANewBackendListStartsRoundRobinAfresh) {
  testing::RouterHarness h;
  h.backends(2, "", {1, 5});
  EXPECT_EQ(h.serve_one(), 1u);
  EXPECT_EQ(h.serve_one(), 1u);
  h.configure({"BACKEND_X", "BACKEND_Y"});
  h.describe({{"x", {"m"}}, {"y", {"m"}}});
  std::vector<int> counts(2, 0);
  for (int k = 1; k <= 10; ++k) {
    counts[h.serve_one()]++;
    EXPECT_LE(std::abs(counts[0] - counts[1]), 1) << "after " << k << " requests";
  }
}

}  // namespace
}  // namespace router
