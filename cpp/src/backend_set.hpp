// BackendSet: the discovered backends. Bindings come from the Worker's env (names starting with
// BACKEND_, sorted so indices are stable); models and weight come from each backend's describe()
// answer, merged with the per-binding overrides of ROUTER_CONFIG (an override wins).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router_config.hpp"

namespace router {

struct Backend {
  std::string binding;               // "BACKEND_A"
  std::string name;                  // describe().name ("" until described)
  std::vector<std::string> models;   // "*" serves any model
  double weight = 1;
  std::string version;
  bool enabled = true;
  std::string describe_error;        // non-empty when the last describe() failed

  bool serves(std::string_view model) const;
};

class BackendSet {
 public:
  static constexpr std::string_view kBindingPrefix = "BACKEND_";
  // After a failed describe() the cache is refreshed sooner than the TTL.
  static constexpr double kFailedDescribeRetryMs = 5000;

  // Keeps the backends whose names start with BACKEND_, sorted. Returns true when the list changed
  // (then every backend is undescribed again).
  bool set_bindings(const std::vector<std::string>& env_names);
  // Re-applies overrides (weight, models, enabled) after a configuration change.
  void apply_overrides(const RouterConfig& config);

  // `answers` is the JSON array aligned with bindings(); returns false when it is not such an array.
  bool apply_descriptions(std::string_view answers_json, const RouterConfig& config, double now,
                          std::vector<std::string>& errors);

  bool stale(double now, double ttl_ms) const;
  bool described() const { return described_at_.has_value(); }
  double described_at() const { return described_at_.value_or(0); }

  size_t size() const { return backends_.size(); }
  const Backend& operator[](size_t i) const { return backends_[i]; }
  const std::vector<Backend>& all() const { return backends_; }
  std::vector<std::string> bindings() const;

 private:
  void merge(Backend& backend, const RouterConfig& config) const;

  std::vector<Backend> backends_;
  // Raw describe() results, kept so a new configuration can be merged without a new discovery.
  std::vector<Backend> described_;
  std::optional<double> described_at_;
  bool any_failed_ = false;
};

}  // namespace router
