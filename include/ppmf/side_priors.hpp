// What both backends build from a model before copying it in (one builder, so the CPU and the
// CUDA backend cannot drift apart): the checks of its shapes and indices, and each side's priors in
// the two forms the backends use.
//
// Training priors: per group g, the mean M_g, the precision P_g = cov_g^-1, P_g M_g and log det P_g
// (the exact row solves and the KL need them).
//
// Prediction rows, addressed by the extended index n + r of a side with n entities (PairIndex):
//   users: r = g (group g's prior), G (the population), G + 1 + g (a new user of group g: the
//          size-biased prior after 0 entries), 2G + 1 (a new user of unknown group);
//   items: r = g, G.
// Each row is a mean (dim) and a full covariance (dim x dim); where a model has no size-biased
// prior (older files), the new-user rows equal the plain ones.
#pragma once

#include <cstdint>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/common.hpp"
#include "ppmf/model.hpp"

namespace ppmf {

struct SidePriors {
  int dim = 1, n_groups = 0, rows = 0;
  std::vector<double> mean, prec, prec_mean, log_det_prec;  // n_groups x (dim, dim^2, dim, 1)
  std::vector<float> row_mean, row_cov;                      // rows x (dim, dim^2)
  std::vector<float> row_var;                                // rows x dim: diagonals of row_cov
};

SidePriors side_priors(const Model& model, Side side);

// Extended indices of prior rows.
int32_t prior_index(const Model& model, Side side, int group);
int32_t population_index(const Model& model, Side side);
int32_t new_user_index(const Model& model, int group);  // group -1: unknown group
int32_t extended_size(const Model& model, Side side);

// Throws Error naming the first inconsistency between the model's guide, groups, priors and rank
// (a backend indexes all of them without further checks).
void check_model_shapes(const Model& model);

// The checks both backends run on what they are handed, with the same messages: training entries
// (equal lengths, indices within n_users x n_items), prediction pairs and scored users (extended
// indices below user_rows / item_rows: entities plus prior rows).
bool training_entries_fit(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                          int32_t n_users, int32_t n_items);
void check_training_entries(const std::vector<int32_t>& user, const std::vector<int32_t>& item,
                            size_t values, int32_t n_users, int32_t n_items);
void check_pairs(const PairIndex* pairs, size_t n, int32_t user_rows, int32_t item_rows);
void check_scored_users(const int32_t* users, size_t n, int32_t user_rows);

// A guide in the backends' row layout: rows of `stride` floats holding the rank factor values then
// the bias (padding 0), for the means, the log-sds and the variances exp(2 logsd); and back.
void guide_to_rows(const GuideBlock& g, int stride, std::vector<float>& mean,
                   std::vector<float>& logsd, std::vector<float>& var);
void rows_to_guide(const float* mean, const float* logsd, int n, int rank, int stride,
                   GuideBlock& g);

// Row stride of the backends' [u; alpha] rows: dim = rank + 1 padded to a multiple of 4 floats.
inline int row_stride(int rank) {
  return padded_stride(rank + 1);
}

}  // namespace ppmf
