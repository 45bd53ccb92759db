// Router: one per isolate. Owns the configuration, the backends, their health, the balancer, the
// retry budget, the live exchanges and the pending log lines. Exchanges ask it which backends may
// serve a model and which one to take.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "routing/action.hpp"
#include "api/api_keys.hpp"
#include "routing/backend_set.hpp"
#include "routing/balancer.hpp"
#include "routing/exchange.hpp"
#include "routing/health_tracker.hpp"
#include "support/log_buffer.hpp"
#include "api/request_head.hpp"
#include "routing/retry_policy.hpp"
#include "config/router_config.hpp"

namespace router {

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
  // Cloudflare's limit on Workers one client request may invoke (waitUntil work included).
  static constexpr size_t kMaxWorkerInvocations = 32;
  std::string drain_logs() { return logs_.drain(); }

  // Exchanges, keyed by a handle the caller chose (unique, non-zero).
  // `seed` drives the exchange's random choices; `seed` and `id_bits` (128 random bits together)
  // make the request id when the client sent none.
  Action begin(uint32_t handle, const RequestHead& head, double now, uint64_t seed, uint64_t id_bits);
  Exchange* exchange(uint32_t handle);
  // Forgets the exchange; `found` is false for an unknown handle. `tail`: see Exchange::end.
  std::string end(uint32_t handle, EndHow how, std::string_view tail, double now, bool& found);

  // --- for Exchange ---
  bool configured() const { return configured_; }
  const std::string& config_error_body() const { return config_error_body_; }
  const RouterConfig& config() const { return config_; }
  const RetryPolicy& retry_policy() const { return retry_policy_; }
  BackendSet& backends() { return backends_; }
  HealthTracker& health() { return health_; }
  RetryBudget& budget() { return budget_; }
  LogBuffer& logs() { return logs_; }
  size_t requests_in_flight() const { return exchanges_.size(); }
  bool api_key_ok(std::string_view auth_hash) const;
  bool admin_ok(std::string_view auth_hash) const;
  bool api_keys_required() const { return api_keys_.required(); }
  // True when the Worker has the Rate Limiting binding (kRateLimiterBinding): /v1 requests then
  // pass a RateLimit action after authentication.
  bool rate_limiting() const { return rate_limiting_; }
  static constexpr std::string_view kRateLimiterBinding = "RATE_LIMITER";

  // Backends serving `model` and enabled.
  std::vector<uint32_t> eligible(std::string_view model) const;
  // The healthy ones among `eligible`; all of them when none is (panic, when allowed).
  std::vector<uint32_t> candidates(const std::vector<uint32_t>& eligible, double now) const;
  std::optional<uint32_t> pick(const std::vector<uint32_t>& pool, SplitMix64& rng);

  std::string status_json(double now) const;
  std::string models_json() const;

 private:
  // Takes ROUTER_CONFIG; returns the OpenAI error object that every request then answers with when
  // it is invalid or the keys are unusable ("" when the router can serve).
  std::string apply_policy(std::string_view raw_config, bool keys_unusable);

  bool configured_ = false;
  RouterConfig config_;
  std::string config_error_body_;  // non-empty while ROUTER_CONFIG or the API keys are invalid
  RetryPolicy retry_policy_;
  ApiKeys api_keys_;
  std::optional<std::string> admin_key_hash_;
  bool rate_limiting_ = false;
  BackendSet backends_;
  LogBuffer logs_;
  HealthTracker health_;
  Balancer balancer_;
  RetryBudget budget_;
  std::map<uint32_t, std::unique_ptr<Exchange>> exchanges_;
};

}  // namespace router
