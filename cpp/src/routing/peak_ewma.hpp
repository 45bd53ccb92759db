// PeakEwma: one backend's latency estimate for the peak-ewma strategy, as Finagle and Linkerd keep
// it. A sample slower than the estimate replaces it at once (the peak: a backend that slows down
// is avoided at its first slow answer); a faster one moves the estimate toward it by 1 - w, with
// w = exp(-elapsed / tau) and elapsed the time since the previous sample, so what counts is how
// long ago, not how many samples ago. Read at `now`, the estimate also decays toward zero for the
// time since its last sample (as Finagle's and Linkerd's do): what a backend did long ago says
// little, so an avoided backend is tried again after a while and its next answer re-measures it.
// Times come from the shim's `now` (ms); the core has no clock.
#pragma once

#include <cstdint>

namespace router {

class PeakEwma {
 public:
  static constexpr double kTauMs = 10000;     // Finagle's default decay time
  static constexpr double kUnmeasured = -1;   // estimate() of a backend without a sample
  // A pair where neither backend has a sample compares at this estimate: by in-flight per weight.
  static constexpr double kNeutralMs = 1;

  // A sample in ms taken at `now` (negative or non-finite samples are ignored: a clock that
  // stepped back; a `now` before the last sample's counts as no time elapsed).
  void observe(double ms, double now);
  // A failed attempt (threw, timed out, an answer counted as a failure) is sampled as though it had
  // taken its whole timeout: a backend that fails at once would otherwise look the fastest and
  // draw the traffic whose failures are then retried elsewhere. Its elapsed time if longer.
  void observe_failure(double elapsed_ms, double timeout_ms, double now);

  bool measured() const { return measured_; }
  // The estimate at `now` in ms, decayed toward zero since the last sample; kUnmeasured without one.
  double estimate(double now) const;

  // What the balancer compares: estimate x (in_flight + 1) / weight, the latency a new request
  // would see if queued behind those in flight, per unit of weight. A weight that is not a
  // positive finite number (it cannot be one: config and describe() refuse it) counts as 1, so the
  // cost is a number >= 0, never NaN (+inf only for an absurdly small weight; it still orders).
  static double cost(double estimate_ms, uint32_t in_flight, double weight);
  // The estimate a backend of a pair is costed at: its own; without a sample, the other's (a new
  // backend is tried at once when less loaded, yet not flooded as a zero or small fixed default
  // would flood it while its first answers, seconds for an LLM, are on their way); neither
  // measured: kNeutralMs, so the pair is compared by load alone.
  static double stand_in(double own_ms, double other_ms);

 private:
  double estimate_ = 0;
  double at_ = 0;  // `now` of the last sample
  bool measured_ = false;
};

}  // namespace router
