#include "routing/health_tracker.hpp"

#include <algorithm>

namespace router {

void HealthTracker::reset(const std::vector<std::string>& bindings) {
  bindings_ = bindings;
  health_.assign(bindings.size(), BackendHealth{});
}

void HealthTracker::attempt_started(size_t i) {
  if (i >= health_.size()) return;
  health_[i].in_flight++;
  health_[i].attempts++;
}

void HealthTracker::attempt_finished(size_t i, AttemptResult result, double now, double cooldown_ms) {
  if (i >= health_.size()) return;
  refresh(now);  // expired ejections must not count against the max-ejection share
  BackendHealth& h = health_[i];
  if (h.in_flight > 0) h.in_flight--;
  switch (result) {
    case AttemptResult::Success:
      h.successes++;
      h.consecutive_failures = 0;
      break;
    case AttemptResult::Failure:
      h.failures++;
      h.consecutive_failures++;
      maybe_eject(i, now);
      break;
    case AttemptResult::NotCounted:
      h.server_errors++;
      break;
    case AttemptResult::RateLimited:
      h.rate_limited++;
      if (h.state != BackendState::Ejected) {
        double until = now + (cooldown_ms >= 0 ? cooldown_ms : kDefaultCooldownMs);
        // A longer cooldown already in force is kept.
        if (h.state != BackendState::Cooldown || until > h.cooldown_until) h.cooldown_until = until, started_here_++;
        if (h.state != BackendState::Cooldown && logs_)
          logs_->add_number("info", "backend_cooldown", {{"backend", bindings_[i]}}, "ms", h.cooldown_until - now);
        h.state = BackendState::Cooldown;
      }
      break;
    case AttemptResult::Abandoned:
      break;
  }
}

void HealthTracker::maybe_eject(size_t i, double now) {
  BackendHealth& h = health_[i];
  if (h.state == BackendState::Ejected || h.consecutive_failures < config_.consecutive_failures) return;
  // Ejecting this one must keep the ejected share within the limit.
  double allowed = config_.max_ejection_percent * static_cast<double>(health_.size());
  if (static_cast<double>(ejected_count() + 1) * 100.0 > allowed) {
    if (logs_) logs_->add("warn", "ejection_skipped_max_percent", {{"backend", bindings_[i]}});
    return;
  }
  // An ejection long forgotten does not lengthen the next one.
  if (h.times_ejected > 0 && h.returned_at > 0 && now - h.returned_at >= config_.max_ejection_ms)
    h.times_ejected = 0;
  h.times_ejected++;
  double duration = std::min(config_.base_ejection_ms * h.times_ejected, config_.max_ejection_ms);
  h.state = BackendState::Ejected;
  h.ejected_until = now + duration;
  started_here_++;
  if (logs_) logs_->add_number("warn", "backend_ejected", {{"backend", bindings_[i]}}, "ms", duration);
}

void HealthTracker::adopt(size_t i, double ejected_until, uint32_t times_ejected, double cooldown_until, double now) {
  if (i >= health_.size()) return;
  refresh(now);
  BackendHealth& h = health_[i];
  if (ejected_until > now) {
    if (h.state == BackendState::Ejected) {
      h.ejected_until = std::max(h.ejected_until, ejected_until);
    } else if (static_cast<double>(ejected_count() + 1) * 100.0 <= config_.max_ejection_percent * static_cast<double>(health_.size())) {
      h.state = BackendState::Ejected;
      h.ejected_until = ejected_until;
      h.consecutive_failures = 0;
      if (logs_) logs_->add_number("warn", "backend_ejected_by_cluster", {{"backend", bindings_[i]}}, "ms", ejected_until - now);
    }
    h.times_ejected = std::max(h.times_ejected, times_ejected);
    return;
  }
  if (cooldown_until > now && h.state != BackendState::Ejected) {
    if (h.state != BackendState::Cooldown && logs_)
      logs_->add_number("info", "backend_cooldown_by_cluster", {{"backend", bindings_[i]}}, "ms", cooldown_until - now);
    if (h.state != BackendState::Cooldown || cooldown_until > h.cooldown_until) h.cooldown_until = cooldown_until;
    h.state = BackendState::Cooldown;
  }
}

void HealthTracker::refresh(double now) {
  for (size_t i = 0; i < health_.size(); ++i) {
    BackendHealth& h = health_[i];
    if (h.state == BackendState::Ejected && now >= h.ejected_until) {
      h.state = BackendState::Healthy;
      h.consecutive_failures = 0;
      h.returned_at = now;
      if (logs_) logs_->add("info", "backend_returned", {{"backend", bindings_[i]}});
    } else if (h.state == BackendState::Cooldown && now >= h.cooldown_until) {
      h.state = BackendState::Healthy;
    }
  }
}

BackendState HealthTracker::state(size_t i, double now) const {
  if (i >= health_.size()) return BackendState::Healthy;
  const BackendHealth& h = health_[i];
  if (h.state == BackendState::Ejected && now < h.ejected_until) return BackendState::Ejected;
  if (h.state == BackendState::Cooldown && now < h.cooldown_until) return BackendState::Cooldown;
  return BackendState::Healthy;
}

bool HealthTracker::healthy(size_t i, double now) const { return state(i, now) == BackendState::Healthy; }

double HealthTracker::until(size_t i) const {
  if (i >= health_.size()) return 0;
  const BackendHealth& h = health_[i];
  return h.state == BackendState::Ejected ? h.ejected_until : h.state == BackendState::Cooldown ? h.cooldown_until : 0;
}

double HealthTracker::next_return(const std::vector<uint32_t>& indices, double now) const {
  double best = -1;
  for (uint32_t i : indices) {
    if (healthy(i, now)) return now;
    double u = until(i);
    if (best < 0 || u < best) best = u;
  }
  return best < 0 ? now : best;
}

size_t HealthTracker::ejected_count() const {
  return static_cast<size_t>(
      std::count_if(health_.begin(), health_.end(), [](const BackendHealth& h) { return h.state == BackendState::Ejected; }));
}

void HealthTracker::answered_after(size_t i, double first_byte_ms, bool whole) {
  if (i >= health_.size()) return;
  health_[i].first_byte.add(first_byte_ms);
  if (whole) health_[i].total.add(first_byte_ms);
}

void HealthTracker::stream_ended_after(size_t i, double total_ms) {
  if (i < health_.size()) health_[i].total.add(total_ms);
}

void HealthTracker::attempt_latency(size_t i, double elapsed_ms, bool failed, double timeout_ms, double now) {
  if (i >= health_.size()) return;
  if (failed) health_[i].peak_ewma.observe_failure(elapsed_ms, timeout_ms, now);
  else health_[i].peak_ewma.observe(elapsed_ms, now);
}

}  // namespace router
