// Fold-in (DESIGN.md section 4): the exact Gaussian posterior of a user's factors and bias given
// the item guide q(V), q(beta) and the user's group prior, by one (d+1) x (d+1) Cholesky solve.
// Adds new users to a model (or refreshes known ones with extra entries) without retraining.
#pragma once

#include <vector>

#include "ppmf/model.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

// One user's entries: item indices into the model and values on the model scale.
struct History {
  std::vector<int32_t> items;
  std::vector<float> values;
};

// Posterior of x = [u; alpha] given `h` under a prior with means / precisions (d + 1 of each).
// Writes the posterior mean and marginal variances diag(Sigma) (the guide keeps marginals), and
// the full covariance when asked.
struct FoldInResult {
  std::vector<double> mean, var;   // d + 1; the bias is the last entry
  std::vector<double> covariance;  // (d + 1)^2, row-major; empty unless want_covariance
};
FoldInResult fold_in_user(const Model& model, const History& h, const double* prior_mean,
                          const double* prior_prec, bool want_covariance = false);

// Prior of a user of group `group` (or the population prior when group < 0), as d + 1 means and
// precisions with the bias last.
void user_prior(const Model& model, int group, std::vector<double>& mean,
                std::vector<double>& prec);

struct FoldInReport {
  size_t added = 0, updated = 0, entries_used = 0, entries_unknown_item = 0;
};

// Folds every user of `table` (raw values) into `model`. A new user is appended, its prior that of
// its group (from `user_groups`, else "default" when the model has groups, else the population). A
// known user is updated by Bayes' rule with its current guide as the prior and the new entries as
// data. Entries of items unknown to the model are skipped and counted. The seen lists and counts
// grow accordingly. Multi-threaded over users.
FoldInReport fold_in_table(Model& model, const Ratings& table, const GroupFile* user_groups,
                           int threads);

}  // namespace ppmf
