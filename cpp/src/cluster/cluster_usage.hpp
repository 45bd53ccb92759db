// ClusterUsage: tokens, latency and fallbacks as the control plane's messages carry them (the
// "usage" part of a report, a snapshot and the stored state; docs/control-plane.md): an isolate's
// delta since its last acknowledged report, the cluster's totals the control plane adds up, and
// the view an isolate shows in /status. Backends are indexes in a backend list; messages name
// them by binding, and bindings a side does not have are ignored.
#pragma once

#include <cstddef>
#include <vector>

#include "routing/fallback_counts.hpp"
#include "routing/latency_sketch.hpp"
#include "routing/usage_ledger.hpp"

namespace router {

class BackendSet;
class JsonValue;
class JsonWriter;

struct ClusterUsage {
  UsageLedger tokens;                            // per backend, model and key id
  std::vector<LatencySketch> first_byte, total;  // per backend (as BackendHealth's)
  FallbackCounts fallbacks;                      // per model pair

  void reset(size_t backends);
  // A sample, as HealthTracker::answered_after / stream_ended_after take it.
  void answered_after(size_t backend, double first_byte_ms, bool whole);
  void stream_ended_after(size_t backend, double total_ms);
  // Adds `later` (same backend list): what happened after what this holds.
  void absorb(const ClusterUsage& later);
  bool empty() const;
};

// {"backends": {binding: {"tokens": [prompt, completion, total, answers], "firstByteMs": sketch,
//               "totalMs": sketch}},
//  "models": {model: tokens}, "keys": {id: tokens}, "fallbacks": {"from -> to": n}}
// sketch: {"samples": n, "ewma": ms, "buckets": [[bucket, count], ...]} (non-empty buckets,
// ascending). Backends with nothing counted are left out.
void write_usage(JsonWriter& w, const ClusterUsage& usage, const BackendSet& backends);
// False when `v` is not such an object (numbers whole and below 2^53, an EWMA finite, buckets in
// range and ascending with counts at most LatencySketch::kHalveAt adding up to at most the
// samples, names and maps bounded). read_report / read_snapshot check a message whole with it
// before anything changes.
bool check_usage(const JsonValue& v);
// Absorbs a checked `v` into `into` (bindings `backends` lacks are ignored).
void add_usage(const JsonValue& v, const BackendSet& backends, ClusterUsage& into);

}  // namespace router
