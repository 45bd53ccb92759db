#include "routing/latency_sketch.hpp"

#include <algorithm>
#include <cmath>

#include "json/json_writer.hpp"

namespace router {
namespace {

constexpr double kGrowth = 1.125;

}  // namespace

size_t LatencySketch::bucket_of(double ms) {
  if (!(ms > 1)) return 0;
  const double index = std::floor(std::log(ms) / std::log(kGrowth));
  return index >= static_cast<double>(kBuckets - 1) ? kBuckets - 1 : static_cast<size_t>(index) + 1;
}

double LatencySketch::bucket_value(size_t i) {
  if (i == 0) return 0.5;
  // Bucket i holds [g^(i-1), g^i): its geometric middle.
  return std::pow(kGrowth, static_cast<double>(i) - 0.5);
}

void LatencySketch::add(double ms) {
  if (!(ms >= 0) || !std::isfinite(ms)) return;
  ewma_ = samples_ == 0 ? ms : ewma_ + kEwmaWeight * (ms - ewma_);
  ++samples_;
  ++buckets_[bucket_of(ms)];
  if (++total_ >= kHalveAt) halve();
}

void LatencySketch::halve() {
  total_ = 0;
  for (uint32_t& count : buckets_) {
    count /= 2;
    total_ += count;
  }
}

void LatencySketch::merge(const LatencySketch& other) {
  if (other.samples_ > samples_) ewma_ = other.ewma_;
  samples_ += other.samples_;
  total_ = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    const uint64_t sum = static_cast<uint64_t>(buckets_[i]) + other.buckets_[i];
    buckets_[i] = sum > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(sum);
    total_ += buckets_[i];
  }
  while (total_ >= kHalveAt) halve();
}

void LatencySketch::absorb(const LatencySketch& later) {
  if (later.samples_ == 0) return;
  // n samples at value e move an EWMA to e + (1-w)^n (ewma - e); past ~200 samples it is e.
  const double keep = std::pow(1 - kEwmaWeight, static_cast<double>(std::min<uint64_t>(later.samples_, 1000)));
  const double ewma = samples_ == 0 ? later.ewma_ : later.ewma_ + keep * (ewma_ - later.ewma_);
  merge(later);
  ewma_ = ewma;
}

void LatencySketch::set_bucket(size_t i, uint32_t count) {
  if (i >= kBuckets) return;
  total_ -= buckets_[i];
  buckets_[i] = count;
  total_ += count;
}

double LatencySketch::quantile(double q) const {
  if (total_ == 0) return 0;
  if (!(q > 0)) q = 0;
  if (q > 1) q = 1;
  // The smallest bucket whose cumulative count reaches q of the total (at least one sample).
  const double wanted = std::max(1.0, std::ceil(q * static_cast<double>(total_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (static_cast<double>(seen) >= wanted) return bucket_value(i);
  }
  return bucket_value(kBuckets - 1);
}

void write_latency(JsonWriter& w, const LatencySketch& s) {
  // One decimal: the sketch is not more exact.
  const auto ms = [](double v) { return std::round(v * 10) / 10; };
  w.begin_object().key("samples").value(s.samples()).key("ewma").value(ms(s.ewma()));
  w.key("p50").value(ms(s.quantile(0.5))).key("p95").value(ms(s.quantile(0.95)));
  w.key("p99").value(ms(s.quantile(0.99)));
  w.end_object();
}

}  // namespace router
