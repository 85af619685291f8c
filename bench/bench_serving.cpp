// Serving throughput on the CPU: fold-in of 100,000 new users with 1-20 entries each, and top-10
// recommendation for 100,000 users over 20,000 items, at rank 32 (sizes adjustable).
//
// Usage: bench_serving [--users N] [--items N] [--rank D] [--threads T]
#include <chrono>
#include <cstdio>
#include <string>

#include "cpu_backend.hpp"
#include "ppmf/foldin.hpp"
#include "ppmf/recommend.hpp"
#include "ppmf/scheduler.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  int users = 100000, items = 20000, rank = 32, threads = 0;
  for (int k = 1; k + 1 < argc; k += 2) {
    const std::string a = argv[k];
    const int v = std::stoi(argv[k + 1]);
    if (a == "--users")
      users = v;
    else if (a == "--items")
      items = v;
    else if (a == "--rank")
      rank = v;
    else if (a == "--threads")
      threads = v;
  }
  // A model over `items` items with random posteriors (its values do not change the work done).
  ppmf::Rng rng(1);
  ppmf::Ratings seed_data;
  for (int j = 0; j < items; ++j)
    seed_data.push(seed_data.users.insert("seed" + std::to_string(j % 100)),
                   seed_data.items.insert("v" + std::to_string(j)), 3.0f);
  ppmf::ModelConfig mc;
  mc.rank = rank;
  ppmf::Model model = ppmf::init_model(seed_data, seed_data.value, mc, nullptr, nullptr, 1);
  for (auto& x : model.V.mean) x = static_cast<float>(0.3 * rng.normal());

  // Fold-in: `users` new users with 1-20 entries each.
  ppmf::Ratings fresh;
  for (int u = 0; u < users; ++u) {
    const int32_t ui = fresh.users.insert("new" + std::to_string(u));
    const int n = 1 + static_cast<int>(rng.below(20));
    for (int e = 0; e < n; ++e)
      fresh.push(ui, fresh.items.insert("v" + std::to_string(rng.below(items))),
                 static_cast<float>(1 + rng.below(5)));
  }
  auto t0 = std::chrono::steady_clock::now();
  ppmf::FoldInOptions fold;
  fold.threads = threads;
  const ppmf::FoldInReport r = ppmf::fold_in_table(model, fresh, nullptr, fold);
  const double fold_s = seconds_since(t0);
  std::printf("fold-in:   %zu users, %zu entries, rank %d: %.3f s = %.0f users/s (%.1f us/user)\n",
              r.added, r.entries_used, rank, fold_s, r.added / fold_s, 1e6 * fold_s / r.added);

  // Top-10 for every folded-in user over the whole catalog, seen items excluded.
  auto backend = ppmf::make_cpu_backend(threads);
  backend->load_model(model);
  std::vector<int32_t> who(users);
  std::vector<std::vector<int32_t>> seen(users);
  for (int u = 0; u < users; ++u) {
    who[u] = model.users.find("new" + std::to_string(u));
    seen[u].assign(model.seen_items.begin() + static_cast<long>(model.seen_offsets[who[u]]),
                   model.seen_items.begin() + static_cast<long>(model.seen_offsets[who[u] + 1]));
  }
  ppmf::RecommendOptions opt;
  opt.k = 10;
  t0 = std::chrono::steady_clock::now();
  const auto lists = ppmf::recommend(*backend, model, who, seen, opt);
  const double rec_s = seconds_since(t0);
  std::printf(
      "recommend: %d users x %d items, top-%d, rank %d: %.3f s = %.0f users/s (%.2f G user-item "
      "scores/s)\n",
      users, items, opt.k, rank, rec_s, users / rec_s, double(users) * items / rec_s / 1e9);
  return lists.size() == static_cast<size_t>(users) ? 0 : 1;
}
