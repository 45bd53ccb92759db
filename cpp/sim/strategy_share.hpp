// The strategy-share comparison: the slow-5x scenario (backend 0 answers 5x slower than the
// others) run local-only under each balancing strategy, same seed and traffic, reporting each
// backend's share of the attempts (docs/cluster-simulation.md, "Balancing strategies").
#pragma once

#include <vector>

#include "sim_model.hpp"

namespace sim {

inline constexpr const char* kStrategies[] = {"round-robin", "least-inflight", "peak-ewma"};

// One row per strategy of kStrategies, in that order (Row::mode is the strategy).
std::vector<Row> run_strategy_share(const Options& opt);
void print_strategy_share(const Options& opt, const std::vector<Row>& rows, double wall_seconds);
// Backend b's share of a row's attempts (0..1).
double attempt_share(const Row& row, size_t b);
// What CTest holds it to: round-robin gives the slow backend its 1/B share (within one point),
// peak-ewma less than 10 %.
bool check_strategy_share(const std::vector<Row>& rows);

}  // namespace sim
