// The result table: percentiles over the fault-free baseline, and one row per scenario and mode.
#pragma once

#include <vector>

#include "sim_model.hpp"

namespace sim {

// Sorts the row's latencies and sets p50/p99 (minus the baseline's when given).
void finish_row(Row& row, const Row* baseline);
void print_table(const Options& opt, const Row& baseline, const std::vector<Row>& rows, double wall_seconds);

}  // namespace sim
