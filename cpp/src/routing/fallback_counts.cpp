#include "routing/fallback_counts.hpp"

#include <algorithm>

#include "json/json_writer.hpp"

namespace router {

std::string FallbackCounts::pair(std::string_view from, std::string_view to) {
  std::string out(from);
  out += " -> ";
  out += to;
  return out;
}

void FallbackCounts::add(std::string_view pair, uint64_t n) {
  auto it = counts_.find(std::string(pair));
  if (it == counts_.end())
    it = counts_.emplace(std::string(counts_.size() >= kMaxPairs ? kOther : pair), 0).first;
  it->second += n;
}

void FallbackCounts::merge(const FallbackCounts& other) {
  for (const auto& [pair, n] : other.counts_) add(pair, n);
}

void FallbackCounts::write(JsonWriter& w) const {
  w.begin_object();
  // Sums past 2^53 stay at 2^53 - 1: what a cluster message's reader takes.
  for (const auto& [pair, n] : counts_) w.key(pair).value(std::min<uint64_t>(n, (1ull << 53) - 1));
  w.end_object();
}

}  // namespace router
