#include "routing/retry_policy.hpp"

#include <algorithm>
#include <cmath>

namespace router {

bool RetryPolicy::retriable(AttemptOutcome outcome, uint32_t status) {
  if (outcome != AttemptOutcome::Answered) return true;
  // 401 and 403 from a backend are its own upstream credentials failing, never the client's key.
  return status == 401 || status == 403 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

AttemptResult RetryPolicy::health_result(AttemptOutcome outcome, uint32_t status) {
  if (outcome != AttemptOutcome::Answered) return AttemptResult::Failure;
  if (status == 429) return AttemptResult::RateLimited;
  if (status == 500) return AttemptResult::NotCounted;
  if (status == 401 || status == 403 || status == 502 || status == 503 || status == 504) return AttemptResult::Failure;
  return AttemptResult::Success;
}

double RetryPolicy::attempt_timeout_ms(bool stream, double now, double deadline) const {
  double t = stream ? timeouts_.first_byte_ms : timeouts_.per_try_ms;
  return std::max(0.0, std::min(t, deadline - now));
}

double RetryPolicy::backoff_ms(uint32_t revisit, SplitMix64& rng) const {
  uint32_t exponent = revisit > 0 ? std::min<uint32_t>(revisit - 1, 30) : 0;
  double ceiling = std::min(retry_.backoff_cap_ms, retry_.backoff_base_ms * std::ldexp(1.0, static_cast<int>(exponent)));
  return rng.unit() * std::max(0.0, ceiling);
}

void RetryState::attempt_started(uint32_t backend) {
  if (backend < tried_.size()) tried_[backend] = true;
  trace_.push_back({backend, AttemptOutcome::Answered, 0});
}

void RetryState::attempt_finished(AttemptOutcome outcome, uint32_t status, double retry_after_ms, double now) {
  if (trace_.empty()) return;
  AttemptRecord& last = trace_.back();
  last.outcome = outcome;
  last.status = outcome == AttemptOutcome::Answered ? status : 0;
  if (retry_after_ms >= 0 && last.backend < retry_at_.size()) retry_at_[last.backend] = now + retry_after_ms;
}

std::vector<uint32_t> RetryState::pool(const std::vector<uint32_t>& candidates, bool& revisit) const {
  std::vector<uint32_t> fresh;
  for (uint32_t c : candidates)
    if (!tried(c)) fresh.push_back(c);
  revisit = fresh.empty();
  return revisit ? candidates : fresh;
}

std::optional<double> RetryState::start_time(const RetryPolicy& policy, uint32_t backend, bool revisit, double now,
                                             SplitMix64& rng) {
  double start = now;
  if (revisit) {
    start = now + policy.backoff_ms(++revisits_, rng);
    if (backend < retry_at_.size()) start = std::max(start, retry_at_[backend]);
  }
  if (start >= deadline_) return std::nullopt;
  return start;
}

bool RetryBudget::try_acquire(size_t requests_in_flight) {
  double limit = std::max(static_cast<double>(min_), std::floor(percent_ / 100.0 * static_cast<double>(requests_in_flight)));
  if (static_cast<double>(retries_in_flight_) + 1 > limit) return false;
  retries_in_flight_++;
  return true;
}

}  // namespace router
