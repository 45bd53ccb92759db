// RouterConfig: the routing policy, parsed and validated from the ROUTER_CONFIG JSON variable.
// Immutable once parsed. Every field has a default (documented in docs/configuration.md); an
// invalid field yields a ConfigError naming it, e.g. "retry.maxAttempts must be an integer in [1, 10]".
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace router {

enum class Strategy { RoundRobin, LeastInflight, PeakEwma };

// The longest fallback chain (models after the requested one), in ROUTER_CONFIG and per request.
inline constexpr std::size_t kMaxChain = 8;

struct RetryConfig {
  uint32_t max_attempts = 3;          // attempts per client request, first one included
  double backoff_base_ms = 25;        // full-jitter backoff before re-trying an already tried backend
  double backoff_cap_ms = 250;
  double retry_after_cap_ms = 10000;  // Retry-After / retry-after-ms are honoured up to this
  double budget_percent = 20;         // retries in flight <= budget_percent% of requests in flight...
  uint32_t budget_min_retries = 3;    // ...but always at least this many

  bool operator==(const RetryConfig&) const = default;
};

struct TimeoutConfig {
  double per_try_ms = 60000;          // one non-streaming attempt
  double first_byte_ms = 30000;       // streaming: until the backend's first chunk
  double request_ms = 120000;         // overall deadline for all attempts and waits
  double stream_idle_ms = 60000;      // streaming, after the first chunk: longest gap between chunks

  bool operator==(const TimeoutConfig&) const = default;
};

struct HealthConfig {
  uint32_t consecutive_failures = 5;  // failures in a row that eject a backend
  double base_ejection_ms = 30000;    // ejection time = base * times ejected...
  double max_ejection_ms = 300000;    // ...capped here
  double max_ejection_percent = 50;   // never eject more than this share of backends
  bool panic_routing = true;          // route to all eligible backends when none is healthy

  bool operator==(const HealthConfig&) const = default;
};

struct LimitConfig {
  uint64_t max_body_bytes = 1 << 20;  // 1 MiB
  uint32_t max_depth = 64;            // JSON nesting depth

  bool operator==(const LimitConfig&) const = default;
};

struct DiscoveryConfig {
  double describe_ttl_ms = 60000;     // describe() answers are cached this long per isolate
  double describe_timeout_ms = 5000;  // one describe() call; no request waits longer for discovery

  bool operator==(const DiscoveryConfig&) const = default;
};

// The control plane (a Durable Object, docs/control-plane.md): how often an isolate syncs with it,
// how long an isolate's first request may wait for the cluster's view, how long a sync may take.
struct ControlPlaneConfig {
  double sync_interval_ms = 1000;
  double first_sync_wait_ms = 50;
  double timeout_ms = 1000;

  bool operator==(const ControlPlaneConfig&) const = default;
};

// Per-client rate limiting is on when the Worker has a RATE_LIMITER binding (its limit and period
// are the binding's); this is how the refusal is answered.
struct RateLimitConfig {
  uint32_t retry_after_seconds = 60;  // Retry-After of a 429 for a client over its limit

  bool operator==(const RateLimitConfig&) const = default;
};

// Token usage (/status): whether the router asks backends for the usage of streams whose client
// did not ask for it (stream_options.include_usage), taking the usage-only event out again.
struct UsageConfig {
  bool stream_usage = true;

  bool operator==(const UsageConfig&) const = default;
};

// The sampled access log: one "access" line per /v1 request with this probability (0: off, 1: every
// request). The Analytics Engine data point does not depend on it (the ANALYTICS binding does).
struct AccessLogConfig {
  double sample_rate = 0;

  bool operator==(const AccessLogConfig&) const = default;
};

// Per-binding override, keyed by binding name ("BACKEND_A").
struct BackendOverride {
  std::optional<double> weight;                    // > 0
  std::optional<std::vector<std::string>> models;  // replaces describe().models
  std::optional<bool> enabled;

  bool operator==(const BackendOverride&) const = default;
};

struct RouterConfig {
  Strategy strategy = Strategy::RoundRobin;
  RetryConfig retry;
  TimeoutConfig timeouts;
  HealthConfig health;
  LimitConfig limits;
  DiscoveryConfig discovery;
  RateLimitConfig rate_limit;
  ControlPlaneConfig control_plane;
  UsageConfig usage;
  AccessLogConfig access_log;
  // Fallback chains: model -> the models to try next, in order (fallback_chain.hpp). Not followed
  // transitively: the list of the requested model is its whole chain.
  std::map<std::string, std::vector<std::string>> fallbacks;
  std::map<std::string, BackendOverride> backends;

  bool operator==(const RouterConfig&) const = default;
};

struct ConfigError {
  std::string field;    // JSON path of the offending field, e.g. "retry.maxAttempts"
  std::string message;  // full sentence naming the field and what is expected
};

// Either a config or the first error found. Empty / whitespace-only text gives the defaults.
struct ConfigResult {
  std::optional<RouterConfig> config;
  std::optional<ConfigError> error;
};

// The JSON shape (every key optional, camelCase: {"strategy", "retry": {"maxAttempts", ...}, ...,
// "backends": {"BACKEND_X": {"weight", "models", "enabled"}}}) is the schema table in
// router_config.cpp, one row per setting (config_fields.hpp); docs/configuration.md documents it.
// Unknown keys are errors too (a typo must not be silently ignored).
ConfigResult parse_router_config(std::string_view text);

// The policy in force, as JSON text for /status (same camelCase shape as the input).
std::string router_config_to_json(const RouterConfig& config);

}  // namespace router
