// Accuracy and calibration of predictions against observed values: RMSE, MAE, Gaussian NLL and the
// coverage of the 90% predictive interval; and the buckets of users by their training entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ppmf {

struct Metrics {
  size_t n = 0;
  double rmse = 0, mae = 0, nll = 0, coverage90 = 0;
};

struct MetricSums {
  size_t n = 0;
  double sse = 0, sae = 0, nll = 0, covered = 0;
  void add(double observed, double mean, double var);
  Metrics finish() const;
};

// Bucket of a user by its number of training entries.
int history_bucket(int32_t training_entries);
const std::vector<std::string>& history_bucket_names();

}  // namespace ppmf
