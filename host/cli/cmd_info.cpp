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
  for (int g = 0; g < prior.n_groups; ++g) {
    double norm = 0, var = 0;
    for (int k = 0; k < prior.rank; ++k) {
      const float m = prior.mean[static_cast<size_t>(g) * prior.rank + k];
      norm += m * m;
      var += 1.0 / prior.prec[static_cast<size_t>(g) * prior.rank + k];
    }
    std::printf("  %-16s %8zu %10zu %10.4f %10.4f %+.3f(%.3f)\n", groups.names[g].c_str(),
                members[g], entries[g], std::sqrt(norm),
                prior.rank > 0 ? std::sqrt(var / prior.rank) : 0.0, prior.bias_mean[g],
                1.0 / std::sqrt(prior.bias_prec[g]));
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
  std::printf("rank %d, transform %s, %s, tau %g, precision prior Gamma(%g, %g)\n", c.rank,
              to_string(c.transform), c.pool ? "pooled" : "unpooled (fixed N(0,1) priors)", c.tau,
              c.prec_a0, c.prec_b0);
  std::printf("training entries %zu, global mean %.4f, noise sd %.4f\n", m.n_train, m.mu0,
              std::sqrt(m.sigma2));
  print_side("users", m.users, m.user_groups, m.user_count, m.user_prior);
  print_side("items", m.items, m.item_groups, m.item_count, m.item_prior);
  if (!m.history.empty()) {
    const EpochMetrics& last = m.history.back();
    const EpochMetrics& best =
        m.history[m.best_epoch > 0 ? m.best_epoch - 1 : m.history.size() - 1];
    std::printf("epochs %zu (kept epoch %d): elbo/entry %.4f, train rmse %.4f", m.history.size(),
                best.epoch, best.elbo_per_entry, best.train_rmse);
    if (best.has_test)
      std::printf(", test rmse %.4f, test nll %.4f", best.test_rmse, best.test_nll);
    std::printf("\nlast epoch %d: %.2fM entries/s\n", last.epoch, last.entries_per_s / 1e6);
  }
  return 0;
}

}  // namespace ppmf::cli
