// RetryPolicy (immutable, from the configuration) and RetryState (one per client request).
// Retriable: the call threw, the per-try timeout fired, 401, 403 (the backend's own credentials),
// 429, 500, 502, 503, 504. Each retry goes to
// a backend not yet tried while an eligible one remains; only re-trying an already tried backend
// waits (full-jitter backoff, or that backend's Retry-After when longer). No wait ends past the
// overall deadline, and every per-try timeout is clamped to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "routing/health_tracker.hpp"
#include "config/router_config.hpp"
#include "support/split_mix64.hpp"

namespace router {

enum class AttemptOutcome : uint32_t { Answered = 0, Threw = 1, TimedOut = 2 };

class RetryPolicy {
 public:
  RetryPolicy(const RetryConfig& retry, const TimeoutConfig& timeouts) : retry_(retry), timeouts_(timeouts) {}

  static bool retriable(AttemptOutcome outcome, uint32_t status);
  static AttemptResult health_result(AttemptOutcome outcome, uint32_t status);

  uint32_t max_attempts() const { return retry_.max_attempts; }
  double deadline(double begin) const { return begin + timeouts_.request_ms; }
  // Per-try (or first-byte, when streaming) timeout, never past the deadline.
  double attempt_timeout_ms(bool stream, double now, double deadline) const;
  // Full jitter: uniform in [0, min(cap, base * 2^(revisit-1))] for the n-th revisit (1-based).
  double backoff_ms(uint32_t revisit, SplitMix64& rng) const;
  double cap_retry_after(double ms) const { return ms < retry_.retry_after_cap_ms ? ms : retry_.retry_after_cap_ms; }

 private:
  RetryConfig retry_;
  TimeoutConfig timeouts_;
};

struct AttemptRecord {
  uint32_t backend;
  AttemptOutcome outcome;
  uint32_t status;
};

class RetryState {
 public:
  RetryState(size_t backends, double deadline) : tried_(backends, false), retry_at_(backends, 0), deadline_(deadline) {}

  double deadline() const { return deadline_; }
  uint32_t attempts() const { return static_cast<uint32_t>(trace_.size()); }
  const std::vector<AttemptRecord>& trace() const { return trace_; }
  bool tried(uint32_t backend) const { return backend < tried_.size() && tried_[backend]; }

  void attempt_started(uint32_t backend);
  // Records the answer of the running attempt; `retry_after_ms` (capped) is < 0 when absent.
  void attempt_finished(AttemptOutcome outcome, uint32_t status, double retry_after_ms, double now);

  // The pool for the next attempt: the untried candidates, or all of them (a revisit) when every
  // candidate was tried. `revisit` tells which case it is.
  std::vector<uint32_t> pool(const std::vector<uint32_t>& candidates, bool& revisit) const;

  // When the next attempt on `backend` may start: now for a fresh backend, after backoff or the
  // backend's own Retry-After for a revisit. nullopt when that moment is at or past the deadline.
  std::optional<double> start_time(const RetryPolicy& policy, uint32_t backend, bool revisit, double now,
                                   SplitMix64& rng);

 private:
  std::vector<bool> tried_;
  std::vector<double> retry_at_;  // per backend: not before this time (from its Retry-After)
  std::vector<AttemptRecord> trace_;
  uint32_t revisits_ = 0;
  double deadline_;
};

// Router-wide: retries in flight may not exceed percent% of requests in flight, but at least min.
class RetryBudget {
 public:
  void configure(double percent, uint32_t min_retries) { percent_ = percent; min_ = min_retries; }
  bool try_acquire(size_t requests_in_flight);
  void release() { if (retries_in_flight_ > 0) retries_in_flight_--; }
  uint32_t retries_in_flight() const { return retries_in_flight_; }

 private:
  double percent_ = 20;
  uint32_t min_ = 3;
  uint32_t retries_in_flight_ = 0;
};

}  // namespace router
