// JSON renderings of the library's reports, one renderer per report: the CLI writes them (--json,
// --metrics-json) and the Python package parses them into dicts, so both show the same fields.
// Numbers that are not finite, and metrics of empty sets, are written as null.
#pragma once

#include <string>
#include <vector>

#include "ppmf/coldstart.hpp"
#include "ppmf/evaluate.hpp"
#include "ppmf/model.hpp"
#include "ppmf/perf_model.hpp"
#include "ppmf/scheduler.hpp"

namespace ppmf {

// {"overall": {n, rmse, mae, nll, coverage90}, "by_user_history": {"0": {...}, ...},
//  "ranking": {k, users, precision, recall, ndcg}}
std::string to_json(const EvalReport& report);

// The run's summary (device, entries, chosen and kept epochs, refit, early stop, seconds) and
// "epochs": one object per epoch of `history` (the model's training history).
std::string to_json(const TrainReport& report, const std::vector<EpochMetrics>& history);

// {"protocol": "given-n", "held_out_users", "train_entries", "by_time", "rows": [...]}
std::string to_json(const GivenNResult& result);

// A list, one object per measured rank (ppmf-gpu bench --json).
std::string to_json(const std::vector<Throughput>& runs);

}  // namespace ppmf
