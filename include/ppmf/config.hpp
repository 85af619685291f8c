// Settings of the model and of training, with the defaults that `--help` prints.
#pragma once

#include <cstdint>
#include <string>

namespace ppmf {

enum class Transform { kNone, kLog1p };
Transform parse_transform(const std::string& s);
const char* to_string(Transform t);

// Fixed once a model exists; stored in the model file.
struct ModelConfig {
  int rank = 32;
  Transform transform = Transform::kNone;
  bool pool = true;  // false: fixed N(0,1) priors, no pooling updates (the unpooled baseline)
  // Second level: group means ~ N(M_0, tau^2).
  float tau = 1.0f;
  // Gamma(a0, b0) on each prior precision, Gamma(a_s, b_s) on the noise precision (MAP).
  float prec_a0 = 2.0f, prec_b0 = 1.0f;
  float noise_a = 2.0f, noise_b = 0.5f;
  float init_sd = 0.1f;  // initial guide means ~ N(0, init_sd^2) and guide sds = init_sd
};

// How to train; not part of the model.
struct TrainConfig {
  int epochs = 60;
  size_t batch_size = 4096;  // 0 = full batch
  float lr = 0.03f;
  float lr_decay = 0.97f;  // multiplied into the learning rate after each epoch
  float adam_beta1 = 0.9f, adam_beta2 = 0.999f, adam_eps = 1e-8f;
  int patience = 8;  // epochs without held-out NLL improvement before stopping; 0 = never stop
  // First epoch with pooling updates. Before it the fixed N(0,1) prior lets the factors grow;
  // pooling from a still-random guide sets high prior precisions that prune most factor dimensions.
  int pool_warmup = 10;
  int pool_iters = 5;  // alternations of the closed-form M / L updates per pooling step
  uint64_t seed = 1;
  int threads = 0;  // 0 = all hardware threads
  bool quiet = false;
  bool progress = true;  // progress bar within long epochs when stderr is a terminal
};

}  // namespace ppmf
