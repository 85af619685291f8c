// The benchmarks' generated problem and the touched-row count of the byte model (perf_model.hpp).
#include "ppmf/perf_model.hpp"

#include <string>
#include <vector>

#include "ppmf/common.hpp"

namespace ppmf {

Ratings generate_bench_problem(int users, int items, size_t nnz, uint64_t seed) {
  Ratings r;
  for (int u = 0; u < users; ++u) r.users.insert(std::to_string(u));
  for (int j = 0; j < items; ++j) r.items.insert(std::to_string(j));
  r.user.resize(nnz);
  r.item.resize(nnz);
  r.value.resize(nnz);
  Rng rng(seed);
  for (size_t k = 0; k < nnz; ++k) {
    r.user[k] = static_cast<int32_t>(rng.below(users));
    const double x = rng.uniform();
    r.item[k] = static_cast<int32_t>(x * x * items);
    r.value[k] = static_cast<float>(3.0 + rng.normal());
  }
  return r;
}

double touched_rows_per_entry(const Ratings& r, size_t batch, uint64_t seed) {
  // Marks in flat arrays: exact and fast at any batch size.
  std::vector<char> seen_user(r.users.size(), 0), seen_item(r.items.size(), 0);
  Rng rng(seed);
  size_t distinct = 0;
  for (size_t k = 0; k < batch; ++k) {
    const size_t at = rng.below(r.size());
    for (char* mark : {&seen_user[r.user[at]], &seen_item[r.item[at]]}) {
      if (*mark) continue;
      *mark = 1;
      ++distinct;
    }
  }
  return static_cast<double>(distinct) / static_cast<double>(batch);
}

}  // namespace ppmf
