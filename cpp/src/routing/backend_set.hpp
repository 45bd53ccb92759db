// BackendSet: the backend catalog. Bindings come from the Worker's env (names starting with
// BACKEND_, sorted so indices are stable); models and weight come from each backend's describe()
// answer, merged with the per-binding overrides of ROUTER_CONFIG (an override wins).
//
// Discovery is per backend and never all at once: Cloudflare lets one client request invoke at
// most 32 Workers, so describe() calls are handed out in batches (take_due), each backend on its
// own schedule (TTL after a good answer, sooner after a failure). A failed or timed-out describe()
// never takes away a backend's last good description; a backend never described is not routable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/endpoint.hpp"
#include "config/router_config.hpp"

namespace router {

class JsonValue;

struct Backend {
  std::string binding;               // "BACKEND_A"
  std::string name;                  // describe().name ("" until described)
  std::vector<std::string> models;   // "*" serves any model
  EndpointSet endpoints = kDefaultEndpoints;  // describe().endpoints: the APIs it serves them on
  double weight = 1;
  std::string version;
  bool enabled = true;
  std::string describe_error;        // non-empty while the last describe() failed

  bool serves(std::string_view model) const;
  bool serves(std::string_view model, Endpoint endpoint) const {
    return (endpoints & endpoint_bit(endpoint)) != 0 && serves(model);
  }
};

class BackendSet {
 public:
  static constexpr std::string_view kBindingPrefix = "BACKEND_";
  // After a failed describe() the backend is asked again this much sooner than the TTL.
  static constexpr double kFailedDescribeRetryMs = 5000;
  // describe() weights above this are refused (as ROUTER_CONFIG weights are).
  static constexpr double kMaxWeight = 1000000;
  // A describe() handed out but never answered (its request went away) is handed out again after
  // its timeout plus this.
  static constexpr double kLostDescribeGraceMs = 1000;

  // Keeps the backends whose names start with BACKEND_, sorted. Returns true when the list changed
  // (then every backend is undescribed again).
  bool set_bindings(const std::vector<std::string>& env_names);
  // Re-applies overrides (weight, models, enabled) after a configuration change.
  void apply_overrides(const RouterConfig& config);

  // describe() answers: a JSON object {binding: answer} (any subset of the backends), or an array
  // aligned with bindings(). Returns false when it is neither. Problems go to `errors` (one line
  // per backend whose problem changed); `accepted` gets the bindings whose answer was taken.
  bool apply_descriptions(std::string_view answers_json, const RouterConfig& config, double now,
                          std::vector<std::string>& errors, std::vector<std::string>& accepted);

  // The same, already parsed (the control plane's catalog arrives inside its snapshot).
  bool apply_descriptions(const JsonValue& answers, const RouterConfig& config, double now,
                          std::vector<std::string>& errors, std::vector<std::string>& accepted);
  // Backend i's last good description as a describe() answer ({"name","models","weight","version",
  // "endpoints"});
  // "" when it has none. The control plane hands these to isolates.
  std::string description_json(size_t i) const;
  // Backend i is not due for describe() before `until` (someone else keeps its description fresh).
  void defer(size_t i, double until);
  // When take_due may next hand out a backend (0 before the first call).
  double next_due() const { return earliest_due_; }

  // Up to `max` backends due for describe(), in rotating order; each is marked as being described
  // until `now + timeout_ms` (plus a grace), so no other request asks it meanwhile.
  std::vector<uint32_t> take_due(double now, double timeout_ms, size_t max);
  // Backends that never answered describe() yet (good or bad): the catalog is not complete.
  size_t undiscovered() const { return undiscovered_; }

  bool described() const { return described_at_.has_value(); }
  // Whether backend `i` has had a good describe() answer (its name and weight are known).
  bool has_description(size_t i) const { return i < schedule_.size() && schedule_[i].good; }
  double described_at() const { return described_at_.value_or(0); }

  size_t size() const { return backends_.size(); }
  const Backend& operator[](size_t i) const { return backends_[i]; }
  const std::vector<Backend>& all() const { return backends_; }
  std::vector<std::string> bindings() const;
  // The index of `binding`, if it is one of the backends.
  std::optional<size_t> index_of(std::string_view binding) const;

 private:
  // Discovery bookkeeping of one backend.
  struct Schedule {
    bool answered = false;        // some describe() answer (good or bad) arrived
    bool good = false;            // `described_` holds a good description
    double next_at = 0;           // when it is due again
    double pending_until = 0;     // a describe() is out until then
  };

  void merge(Backend& backend, const RouterConfig& config) const;
  void apply_one(size_t i, const JsonValue& answer, const RouterConfig& config, double now,
                 std::vector<std::string>& errors, std::vector<std::string>& accepted);

  std::vector<Backend> backends_;
  // Last good describe() results, kept so a new configuration can be merged without a new discovery.
  std::vector<Backend> described_;
  std::vector<Schedule> schedule_;
  size_t cursor_ = 0;  // where take_due starts looking, so batches rotate over the backends
  // No backend is due before this: take_due costs nothing per request between refreshes.
  double earliest_due_ = 0;
  size_t undiscovered_ = 0;
  std::optional<double> described_at_;
};

}  // namespace router
