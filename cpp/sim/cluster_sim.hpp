// One simulated cluster: K Routers (isolates), B fake backends, optionally one ControlPlane, and a
// discrete-event queue on a fake clock. Every request goes through the Router's real exchange API.
#pragma once

#include <memory>
#include <queue>
#include <unordered_map>
#include <random>
#include <vector>

#include "cluster/control_plane.hpp"
#include "routing/router.hpp"
#include "sim_model.hpp"

namespace sim {

class ClusterSim {
 public:
  ClusterSim(const Options& opt, Scenario scenario, bool with_control_plane);
  Row run();

 private:
  enum class Kind { Arrival, CallDone, Resume, SyncDone };
  struct Event {
    double at;
    uint64_t order;
    Kind kind;
    uint32_t isolate, handle;
    router::AttemptOutcome outcome;
    uint32_t status, backend;
    std::string text;  // a 429's Retry-After, or a sync's snapshot
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  struct Isolate {
    std::unique_ptr<router::Router> router;
    uint32_t next_handle = 1;
    bool syncing = false;
  };

  void push(Event e);
  void start_isolate(uint32_t i);
  std::string configure_input(uint32_t isolate) const;
  std::string describe_answers() const;
  void arrival(double now);
  void act(uint32_t i, uint32_t handle, const router::Action& a, double now);
  void call(uint32_t i, uint32_t handle, const router::Call& c, double now);
  void call_done(const Event& e);
  void finish(uint32_t i, uint32_t handle, bool ok, double now);
  void maybe_sync(uint32_t i, double now);
  bool backend_down(uint32_t b, double now) const;
  double draw_latency(uint32_t b);
  void note_attempt(uint32_t i, uint32_t b, bool failed, double now, double cooldown_ms);
  uint32_t pick_isolate();

  Options opt_;
  Scenario scenario_;
  bool with_cp_;
  router::ControlPlane cp_;
  std::vector<Isolate> isolates_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> queue_;
  std::mt19937_64 rng_;
  std::discrete_distribution<uint32_t> isolate_pick_;
  std::vector<bool> known_bad_;           // per backend: the cluster's attempts reached consecutiveFailures in a row
  std::vector<int> cluster_streak_;       // per backend: failed attempts in a row, over all isolates
  std::vector<double> cooling_until_;     // per backend: a 429 told someone to wait until then
  std::vector<double> window_start_;      // RateLimited: the quota's minute
  std::vector<uint64_t> window_count_;
  std::unordered_map<uint64_t, double> start_of_;
  uint64_t order_ = 0;
  double t0_ = 1'700'000'000'000;
  Row row_;
};

}  // namespace sim
