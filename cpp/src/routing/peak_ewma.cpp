#include "routing/peak_ewma.hpp"

#include <algorithm>
#include <cmath>

namespace router {

namespace {
// The share the old estimate keeps after `elapsed` ms, exp(-elapsed / tau): 1 at 0, toward 0 (never
// below) after many tau. As pow(e, x): router.wasm already has pow (LatencySketch); exp's own
// code would add 2 KB (gzipped) to it.
constexpr double kE = 2.718281828459045;
double decay(double elapsed_ms) { return std::pow(kE, -std::max(0.0, elapsed_ms) / PeakEwma::kTauMs); }
}  // namespace

void PeakEwma::observe(double ms, double now) {
  if (!std::isfinite(ms) || ms < 0 || !std::isfinite(now)) return;
  if (!measured_ || ms >= estimate_) {
    estimate_ = ms;
  } else {
    const double w = decay(now - at_);
    estimate_ = estimate_ * w + ms * (1 - w);
  }
  at_ = now;
  measured_ = true;
}

void PeakEwma::observe_failure(double elapsed_ms, double timeout_ms, double now) {
  if (!std::isfinite(timeout_ms)) timeout_ms = 0;
  observe(std::max(elapsed_ms, timeout_ms), now);
}

double PeakEwma::estimate(double now) const {
  if (!measured_) return kUnmeasured;
  return std::isfinite(now) ? estimate_ * decay(now - at_) : estimate_;
}

double PeakEwma::cost(double estimate_ms, uint32_t in_flight, double weight) {
  if (!(weight > 0) || !std::isfinite(weight)) weight = 1;
  if (!(estimate_ms > 0) || !std::isfinite(estimate_ms)) estimate_ms = 0;
  return estimate_ms * (static_cast<double>(in_flight) + 1) / weight;
}

double PeakEwma::stand_in(double own_ms, double other_ms) {
  if (own_ms >= 0) return own_ms;
  return other_ms >= 0 ? other_ms : kNeutralMs;
}

}  // namespace router
