// The simulator's inputs (CLI options, scenarios) and outputs (one row of counts per run).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sim {

// FiveTimesSlower: backend 0's latency is 5x the others' (same shape), run under each strategy
// (strategy_share.hpp) rather than local-only against sync.
enum class Scenario { Baseline, Down, RateLimited, Flapping, Slow, FiveTimesSlower };

struct Options {
  size_t isolates = 1000;
  size_t backends = 50;
  double seconds = 60;
  double rps = 2000;           // cluster-wide Poisson arrival rate
  double sync_ms = 1000;       // controlPlane.syncIntervalMs
  double rpc_ms = 20;          // one sync's round trip
  double quota_per_min = 600;  // RateLimited: backend 0's cluster-wide quota
  double cap_ms = 0;           // retry.retryAfterCapMs (0: the default)
  double skew = 0;             // 0 uniform; else isolate i weighted 1/(i+1)^skew
  uint64_t seed = 1;
  std::string scenario = "all";
  std::string strategy;        // ROUTER_CONFIG strategy ("": the router's default)
  bool markdown = false;
  bool check = false;          // exit 1 when the invariants fail (CTest)
};

struct Row {
  std::string scenario, mode;
  uint64_t requests = 0, client_errors = 0, failed_attempts = 0, wasted_attempts = 0, ejections = 0;
  uint64_t syncs = 0;
  double report_bytes_sum = 0, report_bytes_max = 0, snapshot_bytes_sum = 0, snapshot_bytes_max = 0;
  std::vector<double> latencies;  // ms per request
  std::vector<uint64_t> attempts; // per backend: attempts it was sent
  double p50 = 0, p99 = 0;
};

const char* scenario_name(Scenario s);

}  // namespace sim
