#include "cluster/control_plane.hpp"

#include <algorithm>

#include "json/json_tree.hpp"
#include "json/json_writer.hpp"

namespace router {

namespace {
// A report holds a flat object per backend; a state or snapshot nests descriptions (depth 4).
constexpr uint32_t kMaxMessageDepth = 8;
}  // namespace

int ControlPlane::configure(std::string_view input, double now, std::string& output) {
  const int rc = catalog_.configure(input, now, output);
  const size_t n = catalog_.backends().size();
  bool same = cluster_.size() == n;
  for (size_t i = 0; same && i < n; ++i) same = cluster_[i].binding == catalog_.backends()[i].binding;
  if (rc == 0 && !same) {  // another list of backends: their state starts over
    cluster_.assign(n, BackendClaim{});
    probes_.assign(n, Probe{});
    catalog_text_.assign(n, std::string());
    usage_.reset(n);
    for (size_t i = 0; i < n; ++i) cluster_[i].binding = catalog_.backends()[i].binding;
    bump_catalog_version();
  }
  // The Durable Object's JS bounds each describe() of its alarm by this (the policy stays here).
  if (rc == 0 && !output.empty() && output.back() == '}') {
    output.pop_back();
    output += ",\"describeTimeoutMs\":" + JsonWriter().value(catalog_.config().discovery.describe_timeout_ms).take() + "}";
  }
  return rc;
}

std::string ControlPlane::sync(std::string_view report, double now) {
  const JsonParse parsed = report.size() <= kMaxMessageBytes ? parse_json(report, kMaxMessageDepth) : JsonParse{};
  Report r;
  if (!parsed.ok || !read_report(parsed.root, r)) {
    catalog_.log("warn", "control_plane_bad_report", {});
    return snapshot(false, "", now);
  }
  note_isolate(r.isolate, now);
  for (const BackendClaim& claim : r.backends)
    if (auto i = catalog_.backends().index_of(claim.binding)) merge_claim(*i, claim, r.isolate, now);
  if (r.usage) {
    add_usage(*r.usage, catalog_.backends(), usage_);
    dirty_ = true;
  }
  return snapshot(r.catalog_version < catalog_version_, r.isolate, now);
}

void ControlPlane::merge_claim(size_t i, const BackendClaim& claim, const std::string& isolate, double now) {
  BackendClaim& c = cluster_[i];
  if (claim.counts[1] > 0) probes_[i] = Probe{};  // a success: whoever probed, the hold is over
  for (size_t k = 0; k < c.counts.size(); ++k) c.counts[k] += claim.counts[k];
  const HealthConfig& health = catalog_.config().health;
  count_streak(i, claim, now);
  if (eject(i, std::min(claim.ejected_until, now + health.max_ejection_ms), now) || c.ejected_until > now)
    c.times_ejected = std::max(c.times_ejected, claim.times_ejected);
  const double cooldown_until = std::min(claim.cooldown_until, now + catalog_.config().retry.retry_after_cap_ms);
  if (cooldown_until > now && cooldown_until > c.cooldown_until) {
    c.cooldown_until = cooldown_until;
    start_probe(i, isolate, cooldown_until);
    dirty_ = true;
  }
}

void ControlPlane::start_probe(size_t i, const std::string& isolate, double cooldown_until) {
  const double hold = kProbeIntervals * catalog_.config().control_plane.sync_interval_ms;
  probes_[i] = Probe{isolate, cooldown_until + hold};
}

// The contract's "consecutive failures eject", applied to the cluster's attempts: a report with a
// success restarts the streak at that isolate's failures since (its streak), one with failures
// only adds them. Many isolates each seeing a backend now and then eject it together, where none
// alone would reach health.consecutiveFailures.
void ControlPlane::count_streak(size_t i, const BackendClaim& claim, double now) {
  BackendClaim& c = cluster_[i];
  const uint64_t successes = claim.counts[1], failures = claim.counts[2];
  if (successes > 0) c.streak = claim.streak;
  else c.streak = static_cast<uint32_t>(std::min<uint64_t>(c.streak + failures, 1000000));
  const HealthConfig& health = catalog_.config().health;
  if (c.streak < health.consecutive_failures || c.ejected_until > now) return;
  // An ejection long forgotten does not lengthen the next one (as HealthTracker).
  if (c.ejected_until > 0 && now - c.ejected_until >= health.max_ejection_ms) c.times_ejected = 0;
  const uint32_t times = c.times_ejected + 1;
  if (eject(i, now + std::min(health.base_ejection_ms * times, health.max_ejection_ms), now)) c.times_ejected = times;
}

bool ControlPlane::eject(size_t i, double until, double now) {
  BackendClaim& c = cluster_[i];
  if (until <= now || until <= c.ejected_until) return false;
  const bool already = c.ejected_until > now;
  const HealthConfig& health = catalog_.config().health;
  const double share = static_cast<double>(ejected_count(now) + 1) * 100.0;
  if (!already && share > health.max_ejection_percent * static_cast<double>(cluster_.size())) return false;
  if (!already) catalog_.log("warn", "cluster_ejected", {{"backend", c.binding}});
  c.ejected_until = until;
  c.streak = 0;
  dirty_ = true;
  return true;
}

void ControlPlane::note_isolate(const std::string& id, double now) {
  if (now - isolates_pruned_at_ >= kPersistEveryMs) {
    std::erase_if(isolates_, [&](const auto& entry) { return now - entry.second > kIsolateWindowMs; });
    isolates_pruned_at_ = now;
  }
  if (isolates_.size() < kMaxIsolates || isolates_.count(id)) isolates_[id] = now;
}

size_t ControlPlane::ejected_count(double now) const {
  return static_cast<size_t>(std::count_if(cluster_.begin(), cluster_.end(), [&](const BackendClaim& c) { return c.ejected_until > now; }));
}

void ControlPlane::bump_catalog_version() {
  catalog_version_++;
  dirty_ = true;
}

std::string ControlPlane::snapshot(bool with_catalog, const std::string& isolate, double now) const {
  std::vector<BackendClaim> claims;
  for (size_t i = 0; i < cluster_.size(); ++i) {
    BackendClaim c = cluster_[i];
    const Probe& probe = probes_[i];
    // (The stored state, isolate "", keeps the cooldown itself.)
    if (!isolate.empty() && !probe.isolate.empty() && probe.isolate != isolate && probe.hold_until > now)
      c.cooldown_until = std::max(c.cooldown_until, probe.hold_until);  // another isolate probes first
    if (c.ejected_until <= now) c.ejected_until = 0, c.times_ejected = 0;
    if (c.cooldown_until <= now) c.cooldown_until = 0;
    c.streak = 0;  // the control plane's own bookkeeping
    if (!c.empty()) claims.push_back(std::move(c));
  }
  JsonWriter w;
  w.begin_object().key("now").value(now).key("isolates").value(static_cast<uint64_t>(isolates_.size()));
  w.key("catalogVersion").value(catalog_version_);
  write_claims(w, claims);
  if (!usage_.empty()) write_usage(w.key("usage"), usage_, catalog_.backends());
  if (with_catalog) {
    w.key("catalog").begin_object();
    for (size_t i = 0; i < catalog_text_.size(); ++i)
      if (!catalog_text_[i].empty()) w.key(cluster_[i].binding).raw(catalog_text_[i]);
    w.end_object();
  }
  return w.end_object().take();
}

std::vector<std::string> ControlPlane::discovery(double now) {
  std::vector<std::string> out;
  for (uint32_t i : catalog_.discovery_batch(now, kMaxDescribePerInvocation)) out.push_back(catalog_.binding(i));
  return out;
}

int ControlPlane::describe(std::string_view answers, double now) {
  if (catalog_.describe(answers, now) != 0) return -1;
  bool changed = false;
  for (size_t i = 0; i < catalog_text_.size(); ++i) {
    std::string text = catalog_.backends().description_json(i);
    if (text != catalog_text_[i]) catalog_text_[i] = std::move(text), changed = true;
  }
  if (changed) bump_catalog_version();
  return 0;
}

bool ControlPlane::restore(std::string_view state, double now) {
  const JsonParse parsed = state.size() <= kMaxSnapshotBytes ? parse_json(state, kMaxMessageDepth) : JsonParse{};
  Snapshot s;
  if (!parsed.ok || !read_snapshot(parsed.root, s)) return false;
  for (const BackendClaim& claim : s.backends) {
    auto i = catalog_.backends().index_of(claim.binding);
    if (!i) continue;
    cluster_[*i].counts = claim.counts;
    cluster_[*i].ejected_until = claim.ejected_until;
    cluster_[*i].times_ejected = claim.times_ejected;
    cluster_[*i].cooldown_until = claim.cooldown_until;
  }
  usage_.reset(cluster_.size());
  if (s.usage) add_usage(*s.usage, catalog_.backends(), usage_);
  if (s.catalog) {
    catalog_.describe_parsed(*s.catalog, now);
    for (size_t i = 0; i < catalog_text_.size(); ++i) catalog_text_[i] = catalog_.backends().description_json(i);
  }
  // A newer version than any isolate may hold from before the restart: they all take the catalog.
  catalog_version_ = std::max(catalog_version_, s.catalog_version) + 1;
  return true;
}

std::optional<std::string> ControlPlane::persist(double now) {
  if (!dirty_ || (persisted_at_ >= 0 && now - persisted_at_ < kPersistEveryMs)) return std::nullopt;
  dirty_ = false;
  persisted_at_ = now;
  return snapshot(true, "", now);
}

double ControlPlane::next_alarm(double now) const {
  double next = catalog_.backends().size() > 0 ? std::max(now, catalog_.backends().next_due()) : 0;
  if (dirty_) {
    const double persist_at = persisted_at_ < 0 ? now : std::max(now, persisted_at_ + kPersistEveryMs);
    next = next == 0 ? persist_at : std::min(next, persist_at);
  }
  return next;
}

}  // namespace router
