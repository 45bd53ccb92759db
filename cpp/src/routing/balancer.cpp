#include "routing/balancer.hpp"

#include <utility>

namespace router {

namespace {
// Two distinct candidates drawn at random (power of two choices); needs at least two.
std::pair<const Candidate&, const Candidate&> random_pair(const std::vector<Candidate>& candidates, SplitMix64& rng) {
  size_t n = candidates.size();
  size_t a = rng.below(n);
  size_t b = rng.below(n - 1);
  if (b >= a) b++;  // distinct from a
  return {candidates[a], candidates[b]};
}
}  // namespace

void Balancer::reset(size_t backends) { current_.assign(backends, 0.0); }

void Balancer::seed_once(uint64_t seed) {
  if (seeded_) return;
  SplitMix64 rng(seed);
  offset_ = rng.next();
  seeded_ = true;
}

std::optional<uint32_t> Balancer::pick(const std::vector<Candidate>& candidates, SplitMix64& rng, double now) {
  if (candidates.empty()) return std::nullopt;
  if (candidates.size() == 1) {
    // Keep the smooth state moving so a lone pick does not distort later fairness.
    if (strategy_ == Strategy::RoundRobin) return pick_round_robin(candidates);
    return candidates[0].index;
  }
  switch (strategy_) {
    case Strategy::RoundRobin: return pick_round_robin(candidates);
    case Strategy::LeastInflight: return pick_least_inflight(candidates, rng);
    case Strategy::PeakEwma: return pick_peak_ewma(candidates, rng, now);
  }
  return candidates[0].index;
}

size_t Balancer::rotated(uint32_t index) const {
  size_t n = current_.empty() ? 1 : current_.size();
  return (index + n - offset_ % n) % n;
}

uint32_t Balancer::pick_round_robin(const std::vector<Candidate>& candidates) {
  double total = 0;
  const Candidate* best = nullptr;
  for (const Candidate& c : candidates) {
    if (c.index >= current_.size()) current_.resize(c.index + 1, 0.0);
  }
  for (const Candidate& c : candidates) {
    current_[c.index] += c.weight;
    total += c.weight;
    if (!best || current_[c.index] > current_[best->index] ||
        (current_[c.index] == current_[best->index] && rotated(c.index) < rotated(best->index)))
      best = &c;
  }
  current_[best->index] -= total;
  return best->index;
}

uint32_t Balancer::pick_least_inflight(const std::vector<Candidate>& candidates, SplitMix64& rng) const {
  const auto [x, y] = random_pair(candidates, rng);
  // Compare in_flight / weight without dividing.
  return static_cast<double>(y.in_flight) * x.weight < static_cast<double>(x.in_flight) * y.weight ? y.index : x.index;
}

uint32_t Balancer::pick_peak_ewma(const std::vector<Candidate>& candidates, SplitMix64& rng, double now) const {
  const auto [x, y] = random_pair(candidates, rng);
  const double ms_x = x.latency ? x.latency->estimate(now) : PeakEwma::kUnmeasured;
  const double ms_y = y.latency ? y.latency->estimate(now) : PeakEwma::kUnmeasured;
  const double cost_x = PeakEwma::cost(PeakEwma::stand_in(ms_x, ms_y), x.in_flight, x.weight);
  const double cost_y = PeakEwma::cost(PeakEwma::stand_in(ms_y, ms_x), y.in_flight, y.weight);
  if (cost_x != cost_y) return cost_y < cost_x ? y.index : x.index;
  // Equal costs (both estimates decayed to zero, say): the less loaded per weight, else the first drawn.
  return PeakEwma::cost(1, y.in_flight, y.weight) < PeakEwma::cost(1, x.in_flight, x.weight) ? y.index : x.index;
}

}  // namespace router
