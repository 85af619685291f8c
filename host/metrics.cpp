// Accuracy and calibration sums.
#include "ppmf/metrics.hpp"

#include <cmath>

#include "ppmf/entry_math.hpp"

namespace ppmf {

void MetricSums::add(double observed, double mean, double var) {
  const double err = observed - mean;
  ++n;
  sse += err * err;
  sae += std::fabs(err);
  nll += math::gaussian_nll(observed, mean, var);
  covered += std::fabs(err) <= math::kZ90 * std::sqrt(var) ? 1.0 : 0.0;
}

Metrics MetricSums::finish() const {
  Metrics m;
  m.n = n;
  if (n == 0) return m;
  m.rmse = std::sqrt(sse / n);
  m.mae = sae / n;
  m.nll = nll / n;
  m.coverage90 = covered / n;
  return m;
}

const std::vector<std::string>& history_bucket_names() {
  static const std::vector<std::string> names{"0", "1", "2-5", "6-20", "21-100", ">100"};
  return names;
}

int history_bucket(int32_t c) {
  if (c <= 0) return 0;
  if (c == 1) return 1;
  if (c <= 5) return 2;
  if (c <= 20) return 3;
  if (c <= 100) return 4;
  return 5;
}

}  // namespace ppmf
