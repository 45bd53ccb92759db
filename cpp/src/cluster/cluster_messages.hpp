// The control plane's two messages (docs/control-plane.md), written and read in one place:
//   report   (isolate -> control plane) {"isolate": id, "catalogVersion": n, "backends": {binding: entry},
//                                        "usage"?: usage}
//   snapshot (control plane -> isolate) {"now": t, "isolates": n, "catalogVersion": n,
//                                        "backends": {binding: entry}, "usage"?: usage,
//                                        "catalog"?: {binding: description}}
//   entry: {"counts"?: [attempts, successes, failures, rateLimited, serverErrors],
//           "ejectedUntil"?: t, "timesEjected"?: n, "cooldownUntil"?: t, "streak"?: n}
//   usage: tokens, latency and fallbacks (cluster_usage.hpp).
// In a report, counts and usage are what happened since the last acknowledged report; in a snapshot, the
// cluster's totals. Both sides treat the other's bytes as hostile: bounded sizes, finite numbers,
// unknown bindings ignored by the caller, a malformed message refused whole.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace router {

class JsonValue;
class JsonWriter;

// attempts, successes, failures, rateLimited, serverErrors: HealthTracker's counters.
using Counts = std::array<uint64_t, 5>;

struct BackendClaim {
  std::string binding;
  Counts counts{};
  double ejected_until = 0;   // 0: not ejected
  uint32_t times_ejected = 0;
  double cooldown_until = 0;  // 0: no cooldown
  // Report: the isolate's failures in a row on it now (since its last success). Control plane:
  // the cluster's failures in a row, merged over reports (it ejects at health.consecutiveFailures).
  uint32_t streak = 0;

  bool empty() const;
};

struct Report {
  std::string isolate;
  uint64_t catalog_version = 0;
  std::vector<BackendClaim> backends;
  const JsonValue* usage = nullptr;  // read: points into the parsed document (checked); null when absent
};

struct Snapshot {
  double now = 0;
  uint32_t isolates = 0;
  uint64_t catalog_version = 0;
  std::vector<BackendClaim> backends;
  const JsonValue* catalog = nullptr;  // points into the parsed document; null when absent
  const JsonValue* usage = nullptr;    // the same (checked); null when absent
};

// The most bytes the control plane accepts in a report (a report of a few hundred backends is
// tens of KB; their latency histograms, when each spans every bucket after a long outage of the
// control plane, about 1 MB), and an isolate in a snapshot (the catalog it may carry holds every description,
// each up to 1024 model names).
constexpr size_t kMaxMessageBytes = 2 * 1024 * 1024;
constexpr size_t kMaxSnapshotBytes = 4 * 1024 * 1024;
constexpr size_t kMaxIsolateIdBytes = 64;
// The largest count a message carries: 2^53 - 1, exact in a double (what JSON numbers are).
constexpr double kMaxCount = 9007199254740991.0;
// Sums past kMaxCount are written at it, so whatever one side writes the other reads back (the
// control plane adds what every isolate reports, without end).
inline uint64_t capped_count(uint64_t n) { return n < static_cast<uint64_t>(kMaxCount) ? n : static_cast<uint64_t>(kMaxCount); }

void write_claims(JsonWriter& w, const std::vector<BackendClaim>& claims);
// `usage`: the report's usage object as write_usage wrote it ("" when there is none).
std::string write_report(const Report& report, std::string_view usage = {});

// False when `root` is not a well-formed report / snapshot. Times must be finite and non-negative,
// counts integers below 2^53, timesEjected at most 1000.
bool read_report(const JsonValue& root, Report& out);
bool read_snapshot(const JsonValue& root, Snapshot& out);

}  // namespace router
