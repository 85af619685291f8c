// The benchmarks' generated problem (perf_model.hpp).
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

}  // namespace ppmf
