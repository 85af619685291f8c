// The watch model (WatchConfig, Model::watch; docs/model.md, "The watch model"): which items a
// user watches, trained on every user x item pair without materialising the pairs. It has the
// minutes part's shape (a Gaussian guide per user and item, pooled group priors, exact row
// solves) with 0/1 observations of confidence-weighted precision, so it is served by the same
// backends through a view of the model that puts the watch part in the minutes part's place.
#pragma once

#include <cstdint>
#include <vector>

#include "ppmf/model.hpp"

namespace ppmf {

// A model whose guide and priors are the watch part's (mu0 0, no noise: a watch score is not an
// observation, so its predictive variance is the posterior's), with the same ids, groups, counts
// and seen lists; new users start from their group's plain watch prior (see watch.cpp). Loaded
// into a backend, it scores watch scores (alpha_i + beta_j + u_i . v_j) with their posterior
// variances. Throws when the model has no watch part.
Model watch_view(const Model& model);

// The observation precision of a watched pair (an entry): zero_weight + alpha.
inline float watch_confidence(const WatchConfig& c) { return c.zero_weight + c.alpha; }

// Sum over every row j of `other` of E[w_j w_j^T] and (0 - beta_j) w_j, w_j = [v_j; 1] (dim x dim
// and dim, in double): the implicit zeros' contribution to a row's system at unit precision.
// Summed in fixed chunks in order, so it does not depend on `threads`.
void implicit_background(const GuideBlock& other, int threads, std::vector<double>& p,
                         std::vector<double>& b);

// Sets the watch rows of `users` (model indices) to their exact posterior given all of their
// seen items, their group's watch prior and the implicit zeros: fold-in for the watch part. The
// watch guide must already have rows for them (fold_in_table grows it).
void fold_in_watch(Model& model, const std::vector<int32_t>& users, int threads);

}  // namespace ppmf
