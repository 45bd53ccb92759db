// HealthTracker: passive health per backend. Consecutive counted failures eject a backend for
// base * times-ejected (capped); it returns by itself at that exact time. A 429 puts it in a
// cooldown for its Retry-After. Never more than max-ejection-percent of backends are ejected.
// Also keeps in-flight counts and the attempt counters shown by /status.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "routing/latency_sketch.hpp"
#include "routing/peak_ewma.hpp"
#include "support/log_buffer.hpp"
#include "config/router_config.hpp"

namespace router {

// How one finished attempt affects a backend's health.
enum class AttemptResult {
  Success,      // the backend gave a final answer (2xx, or a non-retriable status passed through)
  Failure,      // threw, timed out, 401, 403, 502, 503, 504, a broken answer or stream: counts towards ejection
  NotCounted,   // 500: retried, but not held against the backend
  RateLimited,  // 429: cooldown, not a failure
  Abandoned,    // the client went away before the backend answered: only in-flight changes
};

enum class BackendState { Healthy, Ejected, Cooldown };

struct BackendHealth {
  uint32_t consecutive_failures = 0;
  uint32_t times_ejected = 0;
  double ejected_until = 0;   // valid while state == Ejected
  double cooldown_until = 0;  // valid while state == Cooldown
  double returned_at = 0;     // when the last ejection ended (to forget old ejections)
  BackendState state = BackendState::Healthy;
  uint32_t in_flight = 0;
  uint64_t attempts = 0;
  uint64_t successes = 0;
  uint64_t failures = 0;      // attempts counted against health (the contract's failures)
  uint64_t rate_limited = 0;  // 429 answers: cooldown, not failures
  uint64_t server_errors = 0; // 500 answers: retried, not failures
  // Latency of answered attempts, from the CALL: to the answer (a stream's first chunk), and to
  // its end (a stream's last byte; a JSON answer is whole when it arrives). Shown by /status.
  LatencySketch first_byte;
  LatencySketch total;
  // The peak-ewma strategy's estimate (fed only under that strategy): time to the answer, failures
  // as their timeout.
  PeakEwma peak_ewma;
};

class HealthTracker {
 public:
  static constexpr double kDefaultCooldownMs = 1000;  // a 429 without Retry-After

  HealthTracker(HealthConfig config, LogBuffer* logs) : config_(config), logs_(logs) {}

  void set_config(const HealthConfig& config) { config_ = config; }
  // Resets all state for a new list of backends.
  void reset(const std::vector<std::string>& bindings);

  void attempt_started(size_t i);
  // cooldown_ms: how long a 429 asked us to wait (already capped), or < 0 when it did not say.
  void attempt_finished(size_t i, AttemptResult result, double now, double cooldown_ms = -1);

  // How long backend i took to answer an attempt (ms from its CALL): to the answer, and (for a
  // JSON answer, which is whole when it arrives) to its end too.
  void answered_after(size_t i, double first_byte_ms, bool whole);
  // A forwarded stream from backend i ended this long (ms) after its CALL.
  void stream_ended_after(size_t i, double total_ms);
  // Backend i's attempt ended at `now`, elapsed_ms after its Call: answered, or `failed` (threw,
  // timed out, an answer counted as a failure), then sampled as its timeout (PeakEwma).
  void attempt_latency(size_t i, double elapsed_ms, bool failed, double timeout_ms, double now);

  // The cluster (the control plane's snapshot) has backend i ejected or cooling down until then:
  // avoid it here too. A later end than the local one wins; max-ejection-percent still holds here.
  void adopt(size_t i, double ejected_until, uint32_t times_ejected, double cooldown_until, double now);

  // Brings back backends whose ejection or cooldown has ended (logs the returns).
  void refresh(double now);

  bool healthy(size_t i, double now) const;
  BackendState state(size_t i, double now) const;
  double until(size_t i) const;  // end of the ejection / cooldown
  // The earliest time an unhealthy backend among `indices` becomes healthy (now when none).
  double next_return(const std::vector<uint32_t>& indices, double now) const;
  size_t ejected_count() const;

  // How many ejections and cooldowns this isolate started itself (not adopted from the cluster):
  // news for the control plane, which the next sync carries at once.
  uint64_t started_here() const { return started_here_; }

  const BackendHealth& operator[](size_t i) const { return health_[i]; }
  size_t size() const { return health_.size(); }

 private:
  void maybe_eject(size_t i, double now);

  HealthConfig config_;
  LogBuffer* logs_;
  std::vector<std::string> bindings_;
  std::vector<BackendHealth> health_;
  uint64_t started_here_ = 0;
};

}  // namespace router
