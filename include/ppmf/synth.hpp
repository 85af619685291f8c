// An AVOD-like data generator (the built-in default data): users in acquisition channels, videos in
// genres, heavy-tailed activity where most users are new (1-3 views), Zipf-like video popularity,
// and minutes watched drawn from the hierarchical model itself, so a run can be scored against the
// true means.
#pragma once

#include <string>
#include <vector>

#include "ppmf/reader.hpp"

namespace ppmf {

struct SynthConfig {
  int users = 200000, items = 20000;
  int rank = 8;
  int channels = 6, genres = 12;
  double new_user_frac = 0.6;  // users with 1-3 views
  double heavy_user_frac = 0.05;
  double popularity_exponent = 0.9;  // item weight ~ 1 / popularity_rank^exponent
  double noise_sd = 0.5;             // on the log1p(minutes) scale
  // Which videos a user starts: 0, by popularity alone; s > 0, by popularity times
  // exp(s x the user's taste for the video, u_i . v_j / sqrt(rank)), so that a model of what
  // users watch can be tested against a known truth (costs users x items x rank).
  double taste_exposure = 0.0;
  uint64_t seed = 1;
};

struct SynthData {
  Ratings ratings;               // minutes watched
  std::vector<float> true_mean;  // per entry: the noise-free mean of log1p(minutes)
  GroupFile user_groups, item_groups;
};

SynthData generate_synth(const SynthConfig& config);

// Writes ratings.csv, user_groups.csv, item_groups.csv and truth.csv into `dir` (created if
// needed).
void write_synth(const SynthData& data, const std::string& dir);

}  // namespace ppmf
