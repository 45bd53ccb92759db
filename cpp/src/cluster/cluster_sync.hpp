// ClusterSync: the isolate's side of the control plane (docs/control-plane.md). It decides when
// the isolate syncs, writes its report (counter deltas since the last acknowledged report, the
// ejections and cooldowns in force here, usage since then), reads the snapshot, and keeps the
// cluster's view for /status. Counter deltas are differences of HealthTracker's counters; the
// request path only adds its tokens, latencies and fallbacks to pending() (with a control plane).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_messages.hpp"
#include "cluster/cluster_usage.hpp"
#include "config/router_config.hpp"

namespace router {

class BackendSet;
class HealthTracker;
class JsonWriter;
class LogBuffer;

// A sync the shim should make: send `report` (bounded by `timeout_ms`), and wait at most `wait_ms` for the answer before
// serving the request at hand (non-zero only for the isolate's first sync).
struct SyncRequest {
  double wait_ms = 0;
  std::string report;
  double timeout_ms = 0;  // the sync is given up (sync_failed) after this
};

enum class ControlPlaneState { Absent, Starting, Synced, Unreachable };

class ClusterSync {
 public:
  // The Durable Object binding every isolate syncs with (absent: the isolate works alone).
  static constexpr std::string_view kBinding = "CONTROL_PLANE";

  void configure(bool present, const ControlPlaneConfig& config, std::string_view isolate_id);
  // A new list of backends: counters start over here, and so does what was acknowledged.
  // A sync is due every syncIntervalMs, and at once when this isolate ejected a backend or began
  // a cooldown since its last report (the news the other isolates need soonest).
  void reset(size_t backends);

  std::optional<SyncRequest> report(const HealthTracker& health, const BackendSet& backends, double now);
  // The snapshot was read and applied: the report it answered is acknowledged.
  void acknowledged(const Snapshot& snapshot, const BackendSet& backends, double now, LogBuffer& logs);
  void failed(double now, LogBuffer& logs);
  // Where the request path adds usage for the next report; null without a control plane.
  ClusterUsage* pending() { return present_ ? &pending_ : nullptr; }

  ControlPlaneState state() const { return state_; }
  uint64_t catalog_version() const { return catalog_version_; }
  void set_catalog_version(uint64_t v) { catalog_version_ = v; }
  void write_status(JsonWriter& w, const BackendSet& backends, double now) const;

 private:
  bool present_ = false;
  ControlPlaneConfig config_;
  std::string isolate_id_;
  ControlPlaneState state_ = ControlPlaneState::Absent;
  bool started_ = false;          // a sync was ever asked for
  double last_started_ = 0;       // when the last sync was asked for
  uint64_t news_reported_ = 0;    // HealthTracker::started_here() as the last report carried it
  double in_flight_until_ = 0;    // a sync is out until then (its answer may never come)
  double synced_at_ = 0;
  double unreachable_logged_at_ = -1;
  uint64_t catalog_version_ = 0;
  std::vector<Counts> acked_, sent_;  // HealthTracker's counters at the last ack / the report in flight
  Snapshot view_;                      // the last snapshot (catalog and usage pointers cleared)
  // Usage since the last report, usage the report in flight carries (back into pending_ when it
  // fails, so nothing is lost), and the cluster's as the last snapshot gave it.
  ClusterUsage pending_, sent_usage_, view_usage_;
  void write_backend_status(JsonWriter& w, const BackendClaim& c, const BackendSet& backends, double now) const;
};

}  // namespace router
