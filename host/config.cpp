// Validation of the settings, and the transform's names.
#include "ppmf/config.hpp"

#include <cmath>
#include <cstdio>

namespace ppmf {

Transform parse_transform(const std::string& s) {
  if (s == "none") return Transform::kNone;
  if (s == "log1p") return Transform::kLog1p;
  throw ConfigError("transform", "unknown transform '" + s + "' (expected none|log1p)");
}

const char* to_string(Transform t) {
  return t == Transform::kLog1p ? "log1p" : "none";
}

namespace {

std::string range_text(double lo, double hi, bool open_lo) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s%g, %g]", open_lo ? "(" : "[", lo, hi);
  return buf;
}

void check_integer(const char* field, long long v, long long lo, long long hi) {
  if (v < lo || v > hi)
    throw ConfigError(field, "must be an integer in [" + std::to_string(lo) + ", " +
                                 std::to_string(hi) + "], got " + std::to_string(v));
}

// v in [lo, hi], or (lo, hi] when open_lo; NaN and infinities fail.
void check_real(const char* field, double v, double lo, double hi, bool open_lo = false) {
  const bool ok = std::isfinite(v) && (open_lo ? v > lo : v >= lo) && v <= hi;
  if (!ok) {
    char got[32];
    std::snprintf(got, sizeof got, "%g", v);
    throw ConfigError(field, "must be a number in " + range_text(lo, hi, open_lo) + ", got " + got);
  }
}

}  // namespace

void validate(const ModelConfig& c) {
  check_integer("rank", c.rank, 0, kMaxRank);
  check_real("tau", c.tau, 0, 1e6, true);
  check_real("prec_a0", c.prec_a0, 1, 1e9);
  check_real("prec_b0", c.prec_b0, 0, 1e9, true);
  check_real("noise_a", c.noise_a, 0, 1e9, true);
  check_real("noise_b", c.noise_b, 0, 1e9, true);
  check_real("init_sd", c.init_sd, 0, 10, true);
}

void validate(const TrainConfig& c) {
  check_integer("epochs", c.epochs, 1, 1000000);
  check_integer("patience", c.patience, 0, 1000000);
  check_real("min_improvement", c.min_improvement, 0, 1e9);
  check_real("valid_frac", c.valid_frac, 0, 0.9);
  check_integer("pool_iters", c.pool_iters, 1, 1000);
  check_integer("checkpoint_every", c.checkpoint_every, 1, 1000000);
  if (c.watch.enabled) {
    check_integer("watch_rank", c.watch.rank, -1, kMaxRank);
    check_real("watch_alpha", c.watch.alpha, 0, 1e9);  // 0: chosen on validation
    check_real("watch_zero_weight", c.watch.zero_weight, 0, 1e9);  // 0: chosen on validation
    check_integer("watch_epochs", c.watch.epochs, 1, 100000);
  }
}

}  // namespace ppmf
