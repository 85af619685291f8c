// ppmf-gpu info: what a model file holds.
#include <cmath>
#include <cstdio>

#include "cli/common.hpp"
#include "ppmf/model_file.hpp"

namespace ppmf::cli {
namespace {

void print_side(const char* title, const IdMap& ids, const Groups& groups,
                const std::vector<int32_t>& counts, const PriorBlock& prior) {
  std::printf("%s: %zu, %zu group(s)%s\n", title, ids.size(), groups.names.size(),
              groups.from_file ? "" : " (no group file: one population group)");
  std::printf("  %-16s %8s %10s %10s %10s %10s\n", "group", "members", "entries", "|mean|",
              "factor_sd", "bias(sd)");
  std::vector<size_t> members(groups.names.size()), entries(groups.names.size());
  for (size_t i = 0; i < groups.of.size(); ++i) {
    ++members[groups.of[i]];
    entries[groups.of[i]] += counts[i];
  }
  const int d = prior.rank, m = prior.dim();
  for (int g = 0; g < prior.n_groups; ++g) {
    const float* mean = prior.mean_of(g);
    const float* cov = prior.cov_of(g);
    double norm = 0, var = 0;
    for (int k = 0; k < d; ++k) {
      norm += mean[k] * mean[k];
      var += cov[k * m + k];
    }
    std::printf("  %-16s %8zu %10zu %10.4f %10.4f %+.3f(%.3f)\n", groups.names[g].c_str(),
                members[g], entries[g], std::sqrt(norm), d > 0 ? std::sqrt(var / d) : 0.0,
                mean[d], std::sqrt(cov[d * m + d]));
  }
}

void print_new_users(const Model& m) {
  const NewUserPrior& nu = m.new_users;
  if (nu.max_n < 0) {
    std::printf("new users: plain group priors (no size-biased prior in this model)\n");
    return;
  }
  const int d = m.rank();
  std::printf("new users: size-biased prior means for 0..%d entries so far; user bias:\n", nu.max_n);
  std::printf("  %-16s %10s %10s %10s %10s\n", "group", "plain", "n=0", "n=1", "n=3");
  for (int g = -1; g < nu.groups; ++g) {
    const float plain = g < 0 ? m.user_prior.pop_mean[d] : m.user_prior.mean_of(g)[d];
    std::printf("  %-16s %+10.4f", g < 0 ? "(population)" : m.user_groups.names[g].c_str(), plain);
    for (const int n : {0, 1, 3}) {
      const float* b = nu.mean_of(g, n, m.dim());
      if (b)
        std::printf(" %+10.4f", b[d]);
      else
        std::printf(" %10s", "-");
    }
    std::printf("\n");
  }
}

}  // namespace

int cmd_info(int argc, char** argv) {
  Args args("info", "--model FILE",
            "Prints a model's sizes, settings, groups with their learned priors, and metrics.");
  args.option("model", "", "model file", "FILE");
  if (!args.parse(argc, argv)) return 0;
  if (!args.given("model")) throw Error("info needs --model FILE");
  const Model m = load_model(args.str("model"));
  const ModelConfig& c = m.config;
  std::printf("model: %s\n", args.str("model").c_str());
  std::printf("rank %d, transform %s, %s, tau %g, hyperprior a0 %g b0 %g\n", c.rank,
              to_string(c.transform), c.pool ? "pooled" : "unpooled (fixed N(0, I) priors)", c.tau,
              c.prec_a0, c.prec_b0);
  std::printf("training entries %zu, global mean %.4f, noise sd %.4f\n", m.n_train, m.mu0,
              std::sqrt(m.sigma2));
  print_side("users", m.users, m.user_groups, m.user_count, m.user_prior);
  print_side("items", m.items, m.item_groups, m.item_count, m.item_prior);
  print_new_users(m);
  if (m.watch.present) {
    const WatchConfig& w = m.watch.config;
    std::printf("watch model: rank %d, alpha %g, zero weight %g, %d sweeps (recommend's default "
                "objective)\n",
                w.rank, w.alpha, w.zero_weight, w.epochs);
    print_side("  watch, users", m.users, m.user_groups, m.user_count, m.watch.user_prior);
    print_side("  watch, items", m.items, m.item_groups, m.item_count, m.watch.item_prior);
  } else {
    std::printf("watch model: none (recommend ranks by the predicted value)\n");
  }
  if (!m.history.empty()) {
    const EpochMetrics& last = m.history.back();
    const EpochMetrics& best =
        m.history[m.best_epoch > 0 ? m.best_epoch - 1 : m.history.size() - 1];
    std::printf("epochs %zu (kept epoch %d): elbo/entry %.4f, train rmse %.4f", m.history.size(),
                best.epoch, best.elbo_per_entry, best.train_rmse);
    if (best.has_valid)
      std::printf(", valid rmse %.4f, valid nll %.4f", best.valid_rmse, best.valid_nll);
    if (best.has_test)
      std::printf(", test rmse %.4f, test nll %.4f", best.test_rmse, best.test_nll);
    std::printf("\nlast epoch %d: %.2fM entries/s\n", last.epoch, last.entries_per_s / 1e6);
  }
  return 0;
}

}  // namespace ppmf::cli
