// cluster_sim: K isolates x B backends x a traffic model x fault scenarios, local-only health
// against control-plane sync (docs/cluster-simulation.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cluster_sim.hpp"
#include "strategy_share.hpp"
#include "table.hpp"

namespace {

bool parse(int argc, char** argv, sim::Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--markdown") { o.markdown = true; continue; }
    if (flag == "--check") { o.check = true; continue; }
    if (i + 1 >= argc) return false;
    const char* v = argv[++i];
    if (flag == "--isolates") o.isolates = std::strtoul(v, nullptr, 10);
    else if (flag == "--backends") o.backends = std::strtoul(v, nullptr, 10);
    else if (flag == "--seconds") o.seconds = std::atof(v);
    else if (flag == "--rps") o.rps = std::atof(v);
    else if (flag == "--sync-ms") o.sync_ms = std::atof(v);
    else if (flag == "--rpc-ms") o.rpc_ms = std::atof(v);
    else if (flag == "--quota") o.quota_per_min = std::atof(v);
    else if (flag == "--retry-after-cap-ms") o.cap_ms = std::atof(v);
    else if (flag == "--skew") o.skew = std::atof(v);
    else if (flag == "--seed") o.seed = std::strtoull(v, nullptr, 10);
    else if (flag == "--scenario") o.scenario = v;
    else return false;
  }
  return o.isolates > 0 && o.backends > 1 && o.seconds > 0 && o.rps > 0;
}

std::vector<sim::Scenario> scenarios(const std::string& name) {
  using S = sim::Scenario;
  std::vector<S> all{S::Down, S::RateLimited, S::Flapping, S::Slow}, out;
  for (S s : all)
    if (name == "all" || name == sim::scenario_name(s)) out.push_back(s);
  return out;
}

// The invariants CTest holds the simulator to: sync wastes fewer attempts on a down backend, and
// no client sees an error while healthy backends remain.
bool check(const std::vector<sim::Row>& rows) {
  bool ok = true;
  for (size_t r = 0; r + 1 < rows.size(); r += 2) {
    if (rows[r].scenario == "down" && rows[r + 1].wasted_attempts >= rows[r].wasted_attempts) {
      std::fprintf(stderr, "FAIL: down: sync wasted %llu >= local %llu\n",
                   (unsigned long long)rows[r + 1].wasted_attempts, (unsigned long long)rows[r].wasted_attempts);
      ok = false;
    }
    for (size_t m = r; m < r + 2; ++m)
      if (rows[m].scenario == "down" && rows[m].client_errors) {
        std::fprintf(stderr, "FAIL: down/%s: %llu client errors\n", rows[m].mode.c_str(),
                     (unsigned long long)rows[m].client_errors);
        ok = false;
      }
  }
  return ok;
}

// --scenario strategy-share: slow-5x under each strategy (strategy_share.hpp).
int strategy_share(const sim::Options& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<sim::Row> rows = sim::run_strategy_share(opt);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sim::print_strategy_share(opt, rows, wall);
  return opt.check && !sim::check_strategy_share(rows) ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  sim::Options opt;
  const bool parsed = parse(argc, argv, opt);
  if (parsed && opt.scenario == "strategy-share") return strategy_share(opt);
  if (!parsed || scenarios(opt.scenario).empty()) {
    std::fprintf(stderr,
                 "usage: cluster_sim [--isolates K] [--backends B] [--seconds S] [--rps R] [--sync-ms MS] [--rpc-ms MS]\n"
                 "  [--quota N/min] [--retry-after-cap-ms MS] [--skew X] [--seed N] [--scenario all|down|rate-limited|flapping|slow|strategy-share]\n"
                 "  [--markdown] [--check]\n");
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  sim::Row baseline = sim::ClusterSim(opt, sim::Scenario::Baseline, false).run();
  sim::finish_row(baseline, nullptr);
  std::vector<sim::Row> rows;
  for (sim::Scenario s : scenarios(opt.scenario))
    for (bool cp : {false, true}) {
      rows.push_back(sim::ClusterSim(opt, s, cp).run());
      sim::finish_row(rows.back(), &baseline);
    }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  sim::print_table(opt, baseline, rows, wall);
  return opt.check && !check(rows) ? 1 : 0;
}
