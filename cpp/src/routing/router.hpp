// Router: one per isolate. Owns the configuration, the backends, their health, the balancer, the
// retry budget, the live exchanges and the pending log lines. Exchanges ask it for the backend of
// their next attempt (choose) and report each attempt's start and end; they never write its state
// directly.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/access_summary.hpp"
#include "routing/action.hpp"
#include "cluster/cluster_sync.hpp"
#include "api/api_keys.hpp"
#include "routing/backend_set.hpp"
#include "routing/balancer.hpp"
#include "routing/dashboard.hpp"
#include "routing/exchange.hpp"
#include "routing/fallback_counts.hpp"
#include "routing/health_tracker.hpp"
#include "support/log_buffer.hpp"
#include "api/request_head.hpp"
#include "routing/retry_policy.hpp"
#include "config/router_config.hpp"

namespace router {

// Router::choose's answer: the backend for the next attempt, or why there is none and until when.
struct Choice {
  enum class Why {
    Chosen,           // `backend`
    NoBackends,       // no BACKEND_* binding at all
    Discovering,      // no backend known to serve the model while some was never described
    DiscoveryFailed,  // ... while some backend's describe() failed and it serves nothing yet
    ModelNotServed,   // every backend is described and none serves the model
    AllUnhealthy,     // every backend serving the model is ejected or cooling down (no panic routing)
    OnlyRevisits,     // asked for an untried backend only, and every candidate was tried
    NonePicked,       // the balancer picked nothing
  };
  Why why = Why::Chosen;
  uint32_t backend = 0;   // Chosen
  bool revisit = false;   // Chosen: every candidate had been tried, this is a retry of one of them
  double retry_at = 0;    // not Chosen: when asking again may help (epoch ms; 0 when it would not)

  bool chosen() const { return why == Why::Chosen; }
};

class Router {
 public:
  Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  ~Router();

  // Input and output JSON as in docs/architecture.md (rt_router_configure). Returns 0, or -1 when
  // the input is not the expected JSON. An invalid ROUTER_CONFIG is not -1: the output names the
  // field and every request then answers 500 with that error.
  int configure(std::string_view input, double now, std::string& output);
  // describe() answers, {binding: answer} or an array aligned with the backend list; 0, or -1 when
  // malformed. `accepted` gets the bindings whose answer was taken, one per line.
  int describe(std::string_view answers, double now, std::string* accepted = nullptr);
  // The backends this request should describe (at most what its share of Cloudflare's 32 Worker
  // invocations per request leaves after its own attempts), marked as being described.
  std::vector<uint32_t> discovery_batch(double now);
  // Up to `max` backends due for describe() (the control plane's alarm batches).
  std::vector<uint32_t> discovery_batch(double now, size_t max) {
    return backends_.take_due(now, config_.discovery.describe_timeout_ms, max);
  }
  // describe() answers already parsed (the control plane's stored catalog).
  void describe_parsed(const JsonValue& answers, double now);
  // Cloudflare's limit on Workers one client request may invoke (waitUntil work included).
  static constexpr size_t kMaxWorkerInvocations = 32;
  std::string drain_logs() { return logs_.drain(); }

  // Exchanges, keyed by a handle the caller chose (unique, non-zero).
  // `seed` drives the exchange's random choices; `seed` and `id_bits` (128 random bits together)
  // make the request id when the client sent none.
  Action begin(uint32_t handle, const RequestHead& head, double now, uint64_t seed, uint64_t id_bits);
  Exchange* exchange(uint32_t handle);
  // Ends, as the client gone, the exchanges whose request is surely gone (Exchange::abandoned_at):
  // what they held (an attempt in flight, a retry token) is released. Called as requests begin; it
  // looks through the exchanges only when one may be due.
  void end_abandoned(double now);
  // Forgets the exchange; `found` is false for an unknown handle. `tail`: see Exchange::end.
  std::string end(uint32_t handle, EndHow how, std::string_view tail, double now, bool& found);

  // --- the control plane (docs/control-plane.md): the shim carries the bytes ---
  // A sync when one is due (the Worker has CONTROL_PLANE, none in flight, the last one older than
  // controlPlane.syncIntervalMs); nullopt otherwise.
  std::optional<SyncRequest> sync_report(double now) { return cluster_.report(health_, backends_, now); }
  // The control plane's snapshot: its ejections and cooldowns adopted, its catalog taken. False
  // when malformed (then as sync_failed).
  bool sync_answer(std::string_view snapshot, double now);
  // The sync threw or timed out: the isolate goes on alone; the deltas wait for the next one.
  void sync_failed(double now) { cluster_.failed(now, logs_); }
  const ClusterSync& cluster() const { return cluster_; }

  // --- for Exchange ---
  // The backend for the next attempt of a request for `model` on `endpoint`, drawing from `rng`
  // only to pick: healthy backends serving it there (all of them when none is healthy and panic routing is on), those
  // the request has not tried first (`retry`); with `untried_only`, nothing rather than a revisit.
  Choice choose(std::string_view model, Endpoint endpoint, const RetryState& retry, SplitMix64& rng, double now,
                bool untried_only = false);
  // The health bookkeeping of one attempt (in-flight counts, counters, ejection, cooldown).
  // cooldown_ms: how long a 429 asked to wait (capped), or < 0.
  void attempt_started(uint32_t backend) { health_.attempt_started(backend); }
  void attempt_finished(uint32_t backend, AttemptResult result, double now, double cooldown_ms = -1) {
    health_.attempt_finished(backend, result, now, cooldown_ms);
  }
  // Latency of answered attempts (HealthTracker::answered_after, stream_ended_after).
  // (With a control plane, also into the report's delta.)
  void answered_after(uint32_t backend, double first_byte_ms, bool whole) {
    health_.answered_after(backend, first_byte_ms, whole);
    if (ClusterUsage* delta = cluster_.pending()) delta->answered_after(backend, first_byte_ms, whole);
  }
  void stream_ended_after(uint32_t backend, double total_ms) {
    health_.stream_ended_after(backend, total_ms);
    if (ClusterUsage* delta = cluster_.pending()) delta->stream_ended_after(backend, total_ms);
  }
  // An attempt's outcome (its answer, or its failure) came elapsed_ms after its Call: the peak-ewma
  // strategy's sample, kept only under that strategy (the others cost nothing more). A failure is
  // what health counts as one (RetryPolicy::health_result).
  void attempt_latency(uint32_t backend, double elapsed_ms, AttemptOutcome outcome, uint32_t status,
                       double timeout_ms, double now) {
    if (config_.strategy != Strategy::PeakEwma) return;
    const bool failed = RetryPolicy::health_result(outcome, status) == AttemptResult::Failure;
    health_.attempt_latency(backend, elapsed_ms, failed, timeout_ms, now);
  }
  // A delivered answer reported these tokens (UsageLedger: per backend, model and key id).
  void usage_reported(uint32_t backend, std::string_view model, std::string_view key, const TokenUsage& usage) {
    usage_.add(backend, model, key, usage);
    if (ClusterUsage* delta = cluster_.pending()) delta->tokens.add(backend, model, key, usage);
  }
  const UsageLedger& usage() const { return usage_; }
  // --- access summaries (access_summary.hpp) ---
  // Whether ending /v1 requests make a summary: for the ANALYTICS data point or the access log.
  bool summaries_wanted() const { return analytics_ || config_.access_log.sample_rate > 0; }
  // An ended request's summary: its data point (with ANALYTICS) and, when `rng` samples it at
  // accessLog.sampleRate, its "access" log line.
  void summarized(const AccessSummary& summary, SplitMix64& rng);
  // The pending Analytics Engine data points, one JSON object a line; clears them.
  std::string drain_data_points() { return data_points_.drain(); }
  static constexpr std::string_view kAnalyticsBinding = "ANALYTICS";
  // An exchange went on from model `from` to `to` (counted per pair for /status).
  void fallback_taken(const std::string& from, const std::string& to);
  // The fallbacks counted so far, "from -> to" -> count.
  const std::map<std::string, uint64_t>& fallbacks() const { return fallbacks_.counts(); }
  // A retry takes a slot of the retry budget (false: the budget is exhausted) until released.
  bool acquire_retry() { return budget_.try_acquire(exchanges_.size()); }
  void release_retry() { budget_.release(); }
  void log(std::string_view level, std::string_view event, std::initializer_list<LogBuffer::Field> fields = {}) {
    logs_.add(level, event, fields);
  }
  // The binding name of backend `backend` (an index).
  const std::string& binding(uint32_t backend) const { return backends_[backend].binding; }

  bool configured() const { return configured_; }
  const std::string& config_error_body() const { return config_error_body_; }
  const RouterConfig& config() const { return config_; }
  const RetryPolicy& retry_policy() const { return retry_policy_; }
  // Read-only views (for exchanges, /status and tests).
  const BackendSet& backends() const { return backends_; }
  const HealthTracker& health() const { return health_; }
  const RetryBudget& budget() const { return budget_; }
  size_t requests_in_flight() const { return exchanges_.size(); }
  bool api_key_ok(std::string_view auth_hash) const;
  bool admin_ok(std::string_view auth_hash) const;
  bool api_keys_required() const { return api_keys_.required(); }
  // The status page's files, as configure took them (none: /dashboard is an unknown path).
  const DashboardFiles& dashboard() const { return dashboard_; }
  // True when the Worker has the Rate Limiting binding (kRateLimiterBinding): /v1 requests then
  // pass a RateLimit action after authentication.
  bool rate_limiting() const { return rate_limiting_; }
  static constexpr std::string_view kRateLimiterBinding = "RATE_LIMITER";

  // Backends serving `model` on `endpoint` (describe().endpoints) and enabled.
  std::vector<uint32_t> eligible(std::string_view model, Endpoint endpoint = Endpoint::ChatCompletions) const;
  // Whether some enabled backend serves `model` on another endpoint (for the 404's words).
  bool served_elsewhere(std::string_view model) const;
  // The healthy ones among `eligible`; all of them when none is (panic, when allowed).
  std::vector<uint32_t> candidates(const std::vector<uint32_t>& eligible, double now) const;

  std::string status_json(double now) const;
  std::string models_json() const;

 private:
  // Takes ROUTER_CONFIG; returns the OpenAI error object that every request then answers with when
  // it is invalid or the keys are unusable ("" when the router can serve).
  std::string apply_policy(std::string_view raw_config, bool keys_unusable);
  // Takes the API key hashes and the admin key hash (nullptr: none); warns when /v1 is open.
  void apply_keys(const std::vector<std::string>& hashes, const std::string* admin_hash, bool keys_unusable,
                  std::vector<std::string>& warnings);
  // Takes the Worker's env names: the BACKEND_* bindings (health and balancer start over when the
  // list changed), the overrides on them, and whether the Rate Limiting binding is there.
  void apply_bindings(const std::vector<std::string>& names, std::vector<std::string>& warnings);
  // A snapshot's catalog, taken as describe() answers; while syncs succeed the control plane keeps
  // these backends' descriptions fresh, so this isolate does not describe them itself.
  void apply_catalog(const Snapshot& snapshot, double now);
  std::optional<uint32_t> pick(const std::vector<uint32_t>& pool, SplitMix64& rng, double now);

  bool configured_ = false;
  RouterConfig config_;
  std::string config_error_body_;  // non-empty while ROUTER_CONFIG or the API keys are invalid
  RetryPolicy retry_policy_;
  ApiKeys api_keys_;
  std::optional<std::string> admin_key_hash_;
  DashboardFiles dashboard_;
  bool rate_limiting_ = false;
  bool analytics_ = false;  // the Worker has the Analytics Engine binding (kAnalyticsBinding)
  LogBuffer data_points_;
  BackendSet backends_;
  LogBuffer logs_;
  HealthTracker health_;
  UsageLedger usage_;
  Balancer balancer_;
  RetryBudget budget_;
  ClusterSync cluster_;
  std::vector<bool> catalog_covers_;  // backends the control plane's catalog describes
  std::map<uint32_t, std::unique_ptr<Exchange>> exchanges_;
  double next_sweep_at_ = 0;  // no exchange is abandoned before then (end_abandoned)
  FallbackCounts fallbacks_;
};

}  // namespace router
