#include "table.hpp"

#include <algorithm>
#include <cstdio>

namespace sim {

namespace {
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1, size_t(q * double(sorted.size())))];
}
}  // namespace

void finish_row(Row& row, const Row* baseline) {
  std::sort(row.latencies.begin(), row.latencies.end());
  row.p50 = percentile(row.latencies, 0.50) - (baseline ? baseline->p50 : 0);
  row.p99 = percentile(row.latencies, 0.99) - (baseline ? baseline->p99 : 0);
}

void print_table(const Options& opt, const Row& baseline, const std::vector<Row>& rows, double wall_seconds) {
  const char* sep = opt.markdown ? " | " : "  ";
  std::printf("# K=%zu isolates, B=%zu backends, %.0f s at %.0f rps, sync every %.0f ms (rpc %.0f ms), quota %.0f/min, "
              "skew %.2f, seed %llu; baseline p50 %.0f ms p99 %.0f ms; wall %.2f s\n",
              opt.isolates, opt.backends, opt.seconds, opt.rps, opt.sync_ms, opt.rpc_ms, opt.quota_per_min, opt.skew,
              (unsigned long long)opt.seed, baseline.p50, baseline.p99, wall_seconds);
  if (opt.markdown) {
    std::printf("| scenario | mode | requests | client errors | failed attempts | wasted attempts | +p50 ms | +p99 ms "
                "| syncs/s | syncs/s/isolate | report B mean/max | snapshot B mean/max | ejections |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  } else {
    std::printf("%-12s%s%-12s%s%8s%s%6s%s%7s%s%7s%s%7s%s%7s%s%8s%s%9s%s%15s%s%17s%s%6s\n", "scenario", sep, "mode", sep,
                "requests", sep, "errors", sep, "failed", sep, "wasted", sep, "+p50ms", sep, "+p99ms", sep, "syncs/s", sep,
                "/isolate", sep, "report B mn/mx", sep, "snapshot B mn/mx", sep, "eject");
  }
  for (const Row& r : rows) {
    const double syncs_s = double(r.syncs) / opt.seconds;
    const double n = r.syncs ? double(r.syncs) : 1;
    char report[48], snapshot[48];
    std::snprintf(report, sizeof report, "%.0f/%.0f", r.report_bytes_sum / n, r.report_bytes_max);
    std::snprintf(snapshot, sizeof snapshot, "%.0f/%.0f", r.snapshot_bytes_sum / n, r.snapshot_bytes_max);
    const char* open = opt.markdown ? "| " : "";
    const char* close = opt.markdown ? " |" : "";
    std::printf("%s%-12s%s%-12s%s%8llu%s%6llu%s%7llu%s%7llu%s%7.0f%s%7.0f%s%8.1f%s%9.3f%s%15s%s%17s%s%6llu%s\n", open,
                r.scenario.c_str(), sep, r.mode.c_str(), sep, (unsigned long long)r.requests, sep,
                (unsigned long long)r.client_errors, sep, (unsigned long long)r.failed_attempts, sep,
                (unsigned long long)r.wasted_attempts, sep, r.p50, sep, r.p99, sep, syncs_s, sep,
                syncs_s / double(opt.isolates), sep, report, sep, snapshot, sep, (unsigned long long)r.ejections, close);
  }
}

}  // namespace sim
