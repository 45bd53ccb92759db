// LatencySketch: quantiles within the bucket error, an EWMA that follows, bounded memory that
// forgets the old past, and histograms that add up across isolates.
#include "routing/latency_sketch.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "support/split_mix64.hpp"

namespace router {
namespace {

// Within the relative error one bucket allows (growth 1/8: half a bucket either side, ~6 %).
void expect_near_relative(double got, double want) {
  EXPECT_LE(std::fabs(got - want), 0.0625 * want + 0.5) << "got " << got << ", wanted about " << want;
}

TEST(LatencySketch, EmptyIsZero) {
  LatencySketch s;
  EXPECT_EQ(s.quantile(0.5), 0);
  EXPECT_EQ(s.ewma(), 0);
  EXPECT_EQ(s.samples(), 0u);
}

TEST(LatencySketch, QuantilesOfAUniformSpreadAreWithinOneBucket) {
  LatencySketch s;
  for (int ms = 1; ms <= 1000; ++ms) s.add(ms);
  expect_near_relative(s.quantile(0.5), 500);
  expect_near_relative(s.quantile(0.95), 950);
  expect_near_relative(s.quantile(0.99), 990);
  EXPECT_EQ(s.samples(), 1000u);
}

TEST(LatencySketch, ATailShowsInP99NotInP50) {
  LatencySketch s;
  SplitMix64 rng(7);
  for (int i = 0; i < 10000; ++i) s.add(i % 100 == 0 ? 2000 + static_cast<double>(rng.next() % 100) : 40);
  expect_near_relative(s.quantile(0.5), 40);
  expect_near_relative(s.quantile(0.95), 40);
  EXPECT_GT(s.quantile(0.995), 1800);
}

TEST(LatencySketch, EwmaFollowsRecentSamples) {
  LatencySketch s;
  s.add(100);
  EXPECT_EQ(s.ewma(), 100) << "the first sample is the EWMA";
  for (int i = 0; i < 50; ++i) s.add(10);
  EXPECT_NEAR(s.ewma(), 10, 0.01);
}

TEST(LatencySketch, BadSamplesAreIgnored) {
  LatencySketch s;
  s.add(-5);
  s.add(std::nan(""));
  s.add(INFINITY);
  EXPECT_EQ(s.samples(), 0u);
  s.add(0);
  EXPECT_EQ(s.quantile(1), 0.5) << "sub-millisecond samples share the first bucket";
}

TEST(LatencySketch, HugeSamplesLandInTheLastBucket) {
  LatencySketch s;
  s.add(1e12);
  EXPECT_EQ(LatencySketch::bucket_of(1e12), LatencySketch::kBuckets - 1);
  EXPECT_GT(s.quantile(0.5), 7e6);
}

TEST(LatencySketch, OldSamplesFadeWhenCountsAreHalved) {
  LatencySketch s;
  for (uint32_t i = 0; i < LatencySketch::kHalveAt - 1; ++i) s.add(1000);
  for (uint32_t i = 0; i < LatencySketch::kHalveAt; ++i) s.add(10);
  expect_near_relative(s.quantile(0.5), 10);
  EXPECT_LT(s.weight(), static_cast<uint64_t>(LatencySketch::kHalveAt));
  EXPECT_EQ(s.samples(), 2ull * LatencySketch::kHalveAt - 1);
}

TEST(LatencySketch, MergedHistogramsAreTheUnionOfSamples) {
  LatencySketch fast, slow, both;
  for (int i = 0; i < 900; ++i) fast.add(20), both.add(20);
  for (int i = 0; i < 100; ++i) slow.add(800), both.add(800);
  fast.merge(slow);
  EXPECT_EQ(fast.samples(), 1000u);
  for (double q : {0.5, 0.9, 0.95, 0.99}) EXPECT_EQ(fast.quantile(q), both.quantile(q)) << q;
  EXPECT_EQ(fast.ewma(), 20) << "the side with more samples keeps its EWMA";
}

TEST(LatencySketch, AbsorbingLaterSamplesIsAddingThem) {
  LatencySketch earlier, later, all;
  for (double ms : {40.0, 50.0, 60.0}) earlier.add(ms), all.add(ms);
  for (double ms : {300.0, 310.0}) later.add(ms), all.add(ms);
  const double before = earlier.ewma();
  earlier.absorb(later);
  EXPECT_EQ(earlier.samples(), 5u);
  EXPECT_EQ(earlier.buckets(), all.buckets());
  // As two samples at later's EWMA: (1-w)^2 of the earlier EWMA is left.
  const double keep = (1 - LatencySketch::kEwmaWeight) * (1 - LatencySketch::kEwmaWeight);
  EXPECT_NEAR(earlier.ewma(), later.ewma() + keep * (before - later.ewma()), 1e-9);
  EXPECT_GT(earlier.ewma(), before);
  EXPECT_LT(earlier.ewma(), later.ewma());
  LatencySketch empty;
  empty.absorb(later);
  EXPECT_EQ(empty.ewma(), later.ewma()) << "no earlier samples: the later EWMA as it is";
  empty.absorb(LatencySketch{});
  EXPECT_EQ(empty.samples(), 2u) << "absorbing nothing changes nothing";
}

TEST(LatencySketch, BucketsAreContiguousAndIncreasing) {
  for (size_t i = 1; i + 1 < LatencySketch::kBuckets; ++i) {
    EXPECT_LT(LatencySketch::bucket_value(i), LatencySketch::bucket_value(i + 1));
    EXPECT_EQ(LatencySketch::bucket_of(LatencySketch::bucket_value(i)), i) << i;
  }
}

}  // namespace
}  // namespace router
