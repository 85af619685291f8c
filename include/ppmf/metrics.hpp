// Accuracy and calibration of predictions against observed values: RMSE, MAE, Gaussian NLL and the
// coverage of the 90% predictive interval, overall and by the user's amount of training data.
#pragma once

#include <string>
#include <vector>

#include "ppmf/model.hpp"
#include "ppmf/predict.hpp"

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

struct EvalReport {
  Metrics overall;
  std::vector<std::string> bucket_names;  // "0", "1", "2-5", "6-20", "21-100", ">100"
  std::vector<Metrics> buckets;
};

// Bucket of a user by its number of training entries.
int history_bucket(int32_t training_entries);
const std::vector<std::string>& history_bucket_names();

// `observed` on the model scale, aligned with `pred`.
EvalReport evaluate(const Model& model, const std::vector<float>& observed,
                    const Predictions& pred);

std::string format_report_table(const EvalReport& r);
std::string format_report_json(const EvalReport& r);

}  // namespace ppmf
