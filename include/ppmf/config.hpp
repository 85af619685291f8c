// Settings of the model and of training, with their defaults (the CLI's --help and the Python
// package's keyword defaults both read them from here), and their validation.
#pragma once

#include <cstdint>
#include <string>

#include "ppmf/common.hpp"

namespace ppmf {

// The largest rank any part of the program accepts.
constexpr int kMaxRank = 1024;

enum class Transform { kNone, kLog1p };
Transform parse_transform(const std::string& s);  // ConfigError("transform", ...) when unknown
const char* to_string(Transform t);

// Fixed once a model exists; stored in the model file.
struct ModelConfig {
  int rank = 32;
  Transform transform = Transform::kNone;
  bool pool = true;  // false: fixed N(0, I) priors, no pooling updates (the unpooled baseline)
  // Second level: group means ~ N(M_0, tau^2 I).
  float tau = 1.0f;
  // MAP hyperpriors: each group's prior precision matrix ~ Wishart(2 prec_a0 + rank, I / (2
  // prec_b0)), which on each diagonal is the Gamma(prec_a0, prec_b0) of a per-dimension precision
  // (see host/hyper.cpp); the noise precision ~ Gamma(noise_a, noise_b).
  float prec_a0 = 2.0f, prec_b0 = 1.0f;
  float noise_a = 2.0f, noise_b = 0.5f;
  float init_sd = 0.1f;  // initial guide means ~ N(0, init_sd^2) and guide sds = init_sd
};

// The watch model (which items a user watches; docs/model.md): every user x item pair is an
// observation, 1 for a pair with an entry and 0 for one without, of precision zero_weight for a
// pair without an entry and zero_weight + alpha for one with. The zeros count for little each but
// are many. Trained after the minutes part, on all training entries, with the same groups.
struct WatchConfig {
  bool enabled = true;
  int rank = -1;             // -1: the model's rank
  // Extra precision of a watched pair and precision of an unwatched one; 0: chosen per run on a
  // validation split of the training entries (see the scheduler), since the best values depend
  // on the data's sparsity.
  float alpha = 0.0f;
  float zero_weight = 0.0f;
  int epochs = 10;           // alternating sweeps (users, then items, then pooling)
};

// How to train; not part of the model.
struct TrainConfig {
  int epochs = 40;   // at most this many sweeps (users, then items, then the pooling updates)
  // Stop when the last `patience` epochs improved the validation NLL (nats per entry) by less than
  // min_improvement on the best before them; 0 = never stop early.
  int patience = 5;
  double min_improvement = 1e-3;
  // Fraction of the training entries held back (by a hash of their ids and the seed) to choose
  // the epoch to keep; 0 = none: all epochs run and the last is kept.
  double valid_frac = 0.05;
  // After the validation split has chosen the number of epochs, train again on all entries
  // (validation included) for that many epochs from the same start, so the model has seen all the
  // data it was given. false: keep the chosen epoch of the run without the validation entries.
  bool refit = true;
  int pool_iters = 5;  // alternations of the closed-form mean / covariance updates per pooling
  uint64_t seed = 1;
  // Write a checkpoint (checkpoint.hpp) to this path after every `checkpoint_every` epochs and
  // after the last; "" = none. Neither changes the model.
  std::string checkpoint;
  int checkpoint_every = 1;
  WatchConfig watch;  // copied into the model, resolved (Model::watch)
};

// Throw ConfigError naming the first field out of range.
void validate(const ModelConfig& config);
void validate(const TrainConfig& config);

}  // namespace ppmf
