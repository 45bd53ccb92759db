#include "routing/balancer.hpp"

namespace router {

void Balancer::reset(size_t backends) { current_.assign(backends, 0.0); }

void Balancer::seed_once(uint64_t seed) {
  if (seeded_) return;
  SplitMix64 rng(seed);
  offset_ = rng.next();
  seeded_ = true;
}

std::optional<uint32_t> Balancer::pick(const std::vector<Candidate>& candidates, SplitMix64& rng) {
  if (candidates.empty()) return std::nullopt;
  if (candidates.size() == 1) {
    // Keep the smooth state moving so a lone pick does not distort later fairness.
    if (strategy_ == Strategy::RoundRobin) return pick_round_robin(candidates);
    return candidates[0].index;
  }
  return strategy_ == Strategy::RoundRobin ? pick_round_robin(candidates) : pick_least_inflight(candidates, rng);
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
  size_t n = candidates.size();
  size_t a = rng.below(n);
  size_t b = rng.below(n - 1);
  if (b >= a) b++;  // distinct from a
  const Candidate& x = candidates[a];
  const Candidate& y = candidates[b];
  // Compare in_flight / weight without dividing.
  return static_cast<double>(y.in_flight) * x.weight < static_cast<double>(x.in_flight) * y.weight ? y.index : x.index;
}

}  // namespace router
