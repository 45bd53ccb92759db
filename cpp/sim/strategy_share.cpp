#include "strategy_share.hpp"

#include <cmath>
#include <cstdio>
#include <numeric>

#include "cluster_sim.hpp"
#include "table.hpp"

namespace sim {

std::vector<Row> run_strategy_share(const Options& opt) {
  std::vector<Row> rows;
  for (const char* strategy : kStrategies) {
    Options o = opt;
    o.strategy = strategy;
    rows.push_back(ClusterSim(o, Scenario::FiveTimesSlower, false).run());
    rows.back().mode = strategy;
    finish_row(rows.back(), nullptr);
  }
  return rows;
}

double attempt_share(const Row& row, size_t b) {
  const double total = double(std::accumulate(row.attempts.begin(), row.attempts.end(), uint64_t{0}));
  return total > 0 && b < row.attempts.size() ? double(row.attempts[b]) / total : 0;
}

void print_strategy_share(const Options& opt, const std::vector<Row>& rows, double wall_seconds) {
  std::printf("# slow-5x: K=%zu isolates, B=%zu backends (backend 0 median 1500 ms, the others 300 ms), %.0f s at "
              "%.0f rps, local-only, seed %llu; wall %.2f s\n",
              opt.isolates, opt.backends, opt.seconds, opt.rps, (unsigned long long)opt.seed, wall_seconds);
  const char* sep = opt.markdown ? " | " : "  ";
  if (opt.markdown) std::printf("| ");
  std::printf("%-15s%s%8s%s%6s%s%7s%s%7s", "strategy", sep, "requests", sep, "errors", sep, "p50ms", sep, "p99ms");
  for (size_t b = 0; b < opt.backends; ++b) std::printf("%s%9s%zu", sep, "share b", b);
  std::printf("%s\n", opt.markdown ? " |" : "");
  if (opt.markdown) {
    std::printf("|---|---|---|---|---|");
    for (size_t b = 0; b < opt.backends; ++b) std::printf("---|");
    std::printf("\n");
  }
  for (const Row& r : rows) {
    if (opt.markdown) std::printf("| ");
    std::printf("%-15s%s%8llu%s%6llu%s%7.0f%s%7.0f", r.mode.c_str(), sep, (unsigned long long)r.requests, sep,
                (unsigned long long)r.client_errors, sep, r.p50, sep, r.p99);
    for (size_t b = 0; b < opt.backends; ++b) std::printf("%s%9.1f %%", sep, 100 * attempt_share(r, b));
    std::printf("%s\n", opt.markdown ? " |" : "");
  }
}

bool check_strategy_share(const std::vector<Row>& rows) {
  bool ok = true;
  for (const Row& r : rows) {
    const double slow = attempt_share(r, 0), fair = r.attempts.empty() ? 0 : 1.0 / double(r.attempts.size());
    if (r.mode == "round-robin" && std::fabs(slow - fair) > 0.01) {
      std::fprintf(stderr, "FAIL: slow-5x/round-robin: slow backend share %.3f, not %.3f\n", slow, fair);
      ok = false;
    }
    if (r.mode == "peak-ewma" && slow >= 0.10) {
      std::fprintf(stderr, "FAIL: slow-5x/peak-ewma: slow backend share %.3f >= 0.10\n", slow);
      ok = false;
    }
  }
  return ok;
}

}  // namespace sim
