#include "cluster/cluster_sync.hpp"

#include "json/json_writer.hpp"
#include "routing/backend_set.hpp"
#include "routing/health_tracker.hpp"
#include "support/log_buffer.hpp"

namespace router {

namespace {
Counts counts_of(const BackendHealth& h) {
  return {h.attempts, h.successes, h.failures, h.rate_limited, h.server_errors};
}

const char* state_name(ControlPlaneState s) {
  switch (s) {
    case ControlPlaneState::Starting: return "starting";
    case ControlPlaneState::Synced: return "synced";
    case ControlPlaneState::Unreachable: return "unreachable";
    default: return "absent";
  }
}
}  // namespace

void ClusterSync::configure(bool present, const ControlPlaneConfig& config, std::string_view isolate_id) {
  present_ = present;
  config_ = config;
  isolate_id_ = std::string(isolate_id.substr(0, kMaxIsolateIdBytes));
  if (!present) state_ = ControlPlaneState::Absent;
  else if (state_ == ControlPlaneState::Absent) state_ = ControlPlaneState::Starting;
}

void ClusterSync::reset(size_t backends) {
  acked_.assign(backends, Counts{});
  sent_.assign(backends, Counts{});
  pending_.reset(backends);
  sent_usage_.reset(backends);
  view_usage_.reset(backends);
  catalog_version_ = 0;
  view_ = Snapshot{};
}

std::optional<SyncRequest> ClusterSync::report(const HealthTracker& health, const BackendSet& backends, double now) {
  if (!present_ || now < in_flight_until_) return std::nullopt;
  const bool news = health.started_here() != news_reported_;
  if (started_ && !news && now - last_started_ < config_.sync_interval_ms) return std::nullopt;
  news_reported_ = health.started_here();
  Report r;
  r.isolate = isolate_id_;
  r.catalog_version = catalog_version_;
  for (size_t i = 0; i < backends.size() && i < acked_.size(); ++i) {
    BackendClaim c;
    c.binding = backends[i].binding;
    sent_[i] = counts_of(health[i]);
    for (size_t k = 0; k < c.counts.size(); ++k) c.counts[k] = sent_[i][k] - acked_[i][k];
    if (c.counts != Counts{}) c.streak = health[i].consecutive_failures;
    const BackendState s = health.state(i, now);
    if (s == BackendState::Ejected) c.ejected_until = health.until(i), c.times_ejected = health[i].times_ejected;
    if (s == BackendState::Cooldown) c.cooldown_until = health.until(i);
    if (!c.empty()) r.backends.push_back(std::move(c));
  }
  // A report whose answer never came (no ack, no failure) is folded into this one.
  sent_usage_.absorb(pending_);
  pending_.reset(acked_.size());
  std::string usage;
  if (!sent_usage_.empty()) {
    JsonWriter w;
    write_usage(w, sent_usage_, backends);
    usage = w.take();
  }
  SyncRequest request{started_ ? 0 : config_.first_sync_wait_ms, write_report(r, usage), config_.timeout_ms};
  started_ = true;
  last_started_ = now;
  in_flight_until_ = now + config_.timeout_ms;
  return request;
}

void ClusterSync::acknowledged(const Snapshot& snapshot, const BackendSet& backends, double now, LogBuffer& logs) {
  acked_ = sent_;
  sent_usage_.reset(acked_.size());
  view_usage_.reset(acked_.size());
  if (snapshot.usage) add_usage(*snapshot.usage, backends, view_usage_);
  in_flight_until_ = 0;
  if (state_ == ControlPlaneState::Unreachable) logs.add("info", "control_plane_synced", {});
  state_ = ControlPlaneState::Synced;
  synced_at_ = now;
  view_ = snapshot;
  view_.catalog = nullptr;
  view_.usage = nullptr;
}

void ClusterSync::failed(double now, LogBuffer& logs) {
  in_flight_until_ = 0;  // the deltas stay: the next report carries them
  sent_usage_.absorb(pending_);  // the report's usage, then what came since
  std::swap(pending_, sent_usage_);
  sent_usage_.reset(acked_.size());
  if (!present_) return;
  state_ = ControlPlaneState::Unreachable;
  if (unreachable_logged_at_ < 0 || now - unreachable_logged_at_ >= config_.sync_interval_ms) {
    logs.add("warn", "control_plane_unreachable", {});
    unreachable_logged_at_ = now;
  }
}

void ClusterSync::write_status(JsonWriter& w, const BackendSet& backends, double now) const {
  w.key("cluster").begin_object().key("controlPlane").value(state_name(state_)).key("syncedAt");
  if (synced_at_ > 0) w.value(synced_at_); else w.null();
  w.key("isolates");
  if (synced_at_ > 0) w.value(view_.isolates); else w.null();
  w.key("catalogVersion").value(catalog_version_).key("backends").begin_array();
  for (const BackendClaim& c : view_.backends) write_backend_status(w, c, backends, now);
  w.end_array().key("usage");
  view_usage_.tokens.write_status(w);
  view_usage_.fallbacks.write(w.key("fallbacks"));
  w.end_object();
}

// One entry of cluster.backends, in the shape of /status's top-level backends (the same writers).
void ClusterSync::write_backend_status(JsonWriter& w, const BackendClaim& c, const BackendSet& backends, double now) const {
  const bool ejected = c.ejected_until > now, cooling = !ejected && c.cooldown_until > now;
  w.begin_object().key("binding").value(c.binding).key("state").value(ejected ? "ejected" : cooling ? "cooldown" : "healthy");
  w.key("until");
  if (ejected || cooling) w.value(ejected ? c.ejected_until : c.cooldown_until); else w.null();
  w.key("timesEjected").value(c.times_ejected).key("attempts").value(c.counts[0]).key("successes").value(c.counts[1]);
  w.key("failures").value(c.counts[2]).key("rateLimited").value(c.counts[3]).key("serverErrors").value(c.counts[4]);
  static const LatencySketch kNone;
  const std::optional<size_t> i = backends.index_of(c.binding);
  const bool known = i && *i < view_usage_.first_byte.size();
  UsageLedger::write(w.key("tokens"), view_usage_.tokens.backend(known ? *i : SIZE_MAX));
  w.key("latency").begin_object();
  write_latency(w.key("firstByteMs"), known ? view_usage_.first_byte[*i] : kNone);
  write_latency(w.key("totalMs"), known ? view_usage_.total[*i] : kNone);
  w.end_object().end_object();
}

}  // namespace router
