// Evaluation metrics and their table / JSON renderings.
#include "ppmf/metrics.hpp"

#include <cmath>
#include <cstdio>

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

EvalReport evaluate(const Model& model, const std::vector<float>& observed,
                    const Predictions& pred) {
  MetricSums all;
  std::vector<MetricSums> by(history_bucket_names().size());
  for (size_t k = 0; k < observed.size(); ++k) {
    const int32_t u = pred.user_index[k];
    const int32_t count = u < model.U.n ? model.user_count[u] : 0;
    all.add(observed[k], pred.mean[k], pred.var[k]);
    by[history_bucket(count)].add(observed[k], pred.mean[k], pred.var[k]);
  }
  EvalReport r;
  r.overall = all.finish();
  r.bucket_names = history_bucket_names();
  for (const auto& b : by) r.buckets.push_back(b.finish());
  return r;
}

namespace {

std::string row(const std::string& name, const Metrics& m) {
  char buf[160];
  if (m.n == 0) {
    std::snprintf(buf, sizeof buf, "%-10s %10d %8s %8s %8s %8s\n", name.c_str(), 0, "-", "-", "-",
                  "-");
  } else {
    std::snprintf(buf, sizeof buf, "%-10s %10zu %8.4f %8.4f %8.4f %8.3f\n", name.c_str(), m.n,
                  m.rmse, m.mae, m.nll, m.coverage90);
  }
  return buf;
}

std::string json_metrics(const Metrics& m) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "{\"n\": %zu, \"rmse\": %.6g, \"mae\": %.6g, \"nll\": %.6g, \"coverage90\": %.6g}",
                m.n, m.rmse, m.mae, m.nll, m.coverage90);
  return buf;
}

}  // namespace

std::string format_report_table(const EvalReport& r) {
  std::string out;
  char head[160];
  std::snprintf(head, sizeof head, "%-10s %10s %8s %8s %8s %8s\n", "history", "entries", "rmse",
                "mae", "nll", "cover90");
  out += head;
  out += row("all", r.overall);
  for (size_t b = 0; b < r.buckets.size(); ++b) out += row(r.bucket_names[b], r.buckets[b]);
  return out;
}

std::string format_report_json(const EvalReport& r) {
  std::string out = "{\n  \"overall\": " + json_metrics(r.overall) + ",\n  \"by_user_history\": {";
  for (size_t b = 0; b < r.buckets.size(); ++b) {
    out += (b ? ",\n    \"" : "\n    \"") + r.bucket_names[b] + "\": " + json_metrics(r.buckets[b]);
  }
  return out + "\n  }\n}\n";
}

}  // namespace ppmf
