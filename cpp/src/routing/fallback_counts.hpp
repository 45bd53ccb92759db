// FallbackCounts: how often exchanges went on from one model to another, per "from -> to" pair, for
// /status (the isolate's, a report's delta, the cluster's). Clients name models (`models`), so the
// map is bounded: pairs past kMaxPairs count under kOther.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace router {

class JsonWriter;

class FallbackCounts {
 public:
  static constexpr size_t kMaxPairs = 100;
  static constexpr std::string_view kOther = "(other pairs)";

  static std::string pair(std::string_view from, std::string_view to);
  void add(std::string_view pair, uint64_t n = 1);
  void merge(const FallbackCounts& other);
  void clear() { counts_.clear(); }
  bool empty() const { return counts_.empty(); }
  const std::map<std::string, uint64_t>& counts() const { return counts_; }
  // {"from -> to": n, ...}
  void write(JsonWriter& w) const;

 private:
  std::map<std::string, uint64_t> counts_;
};

}  // namespace router
