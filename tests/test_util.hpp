// Test helpers: planted data, small random models, and a double-precision reference ELBO written
// straight from DESIGN.md (independent of entry_math.hpp) to check the backends against.
#pragma once

#include <string>
#include <vector>

#include "ppmf/config.hpp"
#include "ppmf/model.hpp"
#include "ppmf/ratings.hpp"

namespace ppmf::testing {

// Ratings from the model r = mu + a_i + b_j + u_i . v_j + noise, every user with `per_user`
// distinct items; `truth` (optional) receives the noise-free means.
Ratings planted_ratings(int users, int items, int rank, int per_user, double noise_sd,
                        uint64_t seed, std::vector<float>* truth = nullptr);

// A small model with a random guide and random (non-trivial) priors over `train`'s ids, with
// `user_group_count` user groups assigned round-robin.
Model random_model(const Ratings& train, int rank, int user_group_count, uint64_t seed);

// The ELBO of DESIGN.md sections 2-3 in double: sum of E[log p(r)] minus the KL of every entity
// with at least one entry.
double reference_elbo(const Model& m, const Ratings& train);

// Training settings for tests: `epochs`, mini-batches of `batch`, nothing printed.
TrainConfig quiet_training(int epochs, size_t batch);

std::string temp_path(const std::string& name);
void write_file(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

}  // namespace ppmf::testing
