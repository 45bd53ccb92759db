// LatencySketch: one backend's recent latencies, in constant memory: an EWMA (what a latency-aware
// balancer reads) and a log-bucket histogram for quantiles (what /status shows: p50, p95, p99).
// Buckets grow by 1/8 from 1 ms, so a quantile is within about 6 % of the true value; counts are
// halved when they grow large, so the quantiles follow the recent past rather than all time.
// Histograms of several isolates add up bucket by bucket (the control plane's cluster view).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace router {

using std::size_t;
class JsonWriter;

class LatencySketch {
 public:
  static constexpr size_t kBuckets = 160;     // 1 ms * (9/8)^159 ≈ 129 min: any answer fits
  static constexpr double kEwmaWeight = 0.2;  // a new sample's share of the EWMA
  static constexpr uint32_t kHalveAt = 1u << 16;

  // One sample, in ms (negative or non-finite samples are ignored: a clock that stepped back).
  void add(double ms);
  // Adds another sketch's histogram (its EWMA is not mergeable: the larger-count side's is kept).
  void merge(const LatencySketch& other);
  // Adds the samples `later` holds, taken after this sketch's (a report's delta, the cluster view):
  // histograms add, and the EWMA moves as if `later`'s samples had come at `later`'s EWMA.
  void absorb(const LatencySketch& later);

  // The value below which `q` (0..1) of the samples fall, in ms (0 with no samples).
  double quantile(double q) const;
  double ewma() const { return ewma_; }
  // Samples in the histogram (after halvings: a weight, not a total).
  uint64_t weight() const { return total_; }
  // All samples ever added (for the "samples" figure of /status).
  uint64_t samples() const { return samples_; }

  const std::array<uint32_t, kBuckets>& buckets() const { return buckets_; }
  // Restores a histogram read from a cluster message (counts already validated by the reader).
  void set_bucket(size_t i, uint32_t count);
  // ... and its sample count and EWMA.
  void set_summary(uint64_t samples, double ewma) { samples_ = samples, ewma_ = ewma; }

  static size_t bucket_of(double ms);
  // The value a bucket stands for: its geometric middle.
  static double bucket_value(size_t i);

 private:
  void halve();

  std::array<uint32_t, kBuckets> buckets_{};
  uint64_t total_ = 0;
  uint64_t samples_ = 0;
  double ewma_ = 0;
};

// {"samples", "ewma", "p50", "p95", "p99"} in ms: a sketch as /status shows it (isolate and cluster).
void write_latency(JsonWriter& w, const LatencySketch& s);

}  // namespace router
