// Fold-in (docs/model.md, "New users"): the exact Gaussian posterior of a user's factors and bias
// given the item guide q(V), q(beta) and the user's prior, by one (d+1) x (d+1) Cholesky solve
// (host/row_solver.hpp, the same solve that training runs on every row). Adds new users to a model
// (or refreshes known ones with extra entries) without retraining.
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

// Posterior of x = [u; alpha] given `h` under the prior N(prior_mean, prior_prec^-1) (dim = rank + 1
// values and a dim x dim precision). The guide keeps the mean and the marginal variances diag(Sigma);
// the full covariance comes on request.
struct FoldInResult {
  std::vector<double> mean, var;   // dim; the bias is the last entry
  std::vector<double> covariance;  // dim x dim, row-major; empty unless want_covariance
};
FoldInResult fold_in_user(const Model& model, const History& h, const double* prior_mean,
                          const double* prior_prec, bool want_covariance = false);

// The prior of a new user of `group` (-1: unknown group, the population) who brings `entries`
// entries: the group's covariance (as a precision, dim x dim) and its size-biased mean for that
// many entries (model.new_users), or the plain group mean when `plain` or when the model has none.
void new_user_prior(const Model& model, int group, int entries, bool plain,
                    std::vector<double>& mean, std::vector<double>& prec);

struct FoldInOptions {
  bool plain_prior = false;  // new users start from the plain group mean, not the size-biased one
  int threads = 0;           // 0 = the CPUs this process may use (see DeviceSpec::threads)
};

struct FoldInReport {
  size_t added = 0, updated = 0, entries_used = 0, entries_unknown_item = 0;
};

// Folds every user of `table` (raw values) into `model`. A new user is appended with the prior of
// its group (from `user_groups`, else "default" when the model has groups, else the population),
// see new_user_prior. A known user is updated by Bayes' rule with its current guide as the prior
// and the new entries as data. Entries of items unknown to the model are skipped and counted. The
// seen lists and counts grow accordingly. Multi-threaded over users.
FoldInReport fold_in_table(Model& model, const Ratings& table, const GroupFile* user_groups,
                           const FoldInOptions& options = {});

}  // namespace ppmf
