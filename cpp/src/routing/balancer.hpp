// Balancer: picks one backend among candidates.
// - round-robin: smooth weighted round-robin (as nginx): each pick adds every candidate's weight to
//   its current value, takes the largest and subtracts the total from it. Equal weights give plain
//   round-robin. Ties go to the first candidate in an order rotated by a random offset drawn once
//   from the first seed the router sees, so isolates do not all start on the same backend.
// - least-inflight: power of two choices: two distinct random candidates, the one with fewer
//   requests in flight per unit of weight wins.
// - peak-ewma: power of two choices too, the lower PeakEwma::cost wins: latency estimate x
//   (in flight + 1) / weight, so a slow backend gets little traffic and a busy one less.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "config/router_config.hpp"
#include "routing/peak_ewma.hpp"
#include "support/split_mix64.hpp"

namespace router {

struct Candidate {
  uint32_t index;      // backend index
  double weight;       // > 0
  uint32_t in_flight;
  // peak-ewma only (null under the other strategies): the backend's estimator, read at the pick's
  // `now` for the two candidates drawn only (an estimate costs a pow(); there may be 128 candidates).
  const PeakEwma* latency = nullptr;
};

class Balancer {
 public:
  void set_strategy(Strategy strategy) { strategy_ = strategy; }
  Strategy strategy() const { return strategy_; }
  // Forgets positions for a new backend list.
  void reset(size_t backends);
  // Draws the start offset from the first seed only; later calls do nothing.
  void seed_once(uint64_t seed);
  bool seeded() const { return seeded_; }

  // nullopt only when there is no candidate. `rng` is used by least-inflight and peak-ewma, `now`
  // (the shim's clock, ms) by peak-ewma.
  std::optional<uint32_t> pick(const std::vector<Candidate>& candidates, SplitMix64& rng, double now = 0);

 private:
  uint32_t pick_round_robin(const std::vector<Candidate>& candidates);
  uint32_t pick_least_inflight(const std::vector<Candidate>& candidates, SplitMix64& rng) const;
  uint32_t pick_peak_ewma(const std::vector<Candidate>& candidates, SplitMix64& rng, double now) const;
  size_t rotated(uint32_t index) const;

  Strategy strategy_ = Strategy::RoundRobin;
  std::vector<double> current_;  // smooth round-robin state per backend index
  uint64_t offset_ = 0;
  bool seeded_ = false;
};

}  // namespace router
