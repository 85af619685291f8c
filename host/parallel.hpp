// Deterministic parallel reductions: the range is cut into fixed chunks (independent of the thread
// count), chunk partials are computed in parallel and summed in chunk order, so the same inputs
// give the same bits with 1 or 16 threads.
#pragma once

#include <omp.h>

#include <array>
#include <cstddef>
#include <vector>

namespace ppmf {

constexpr size_t kReduceChunk = 1 << 14;

// body(begin, end, partial) adds into partial (an array of K doubles).
template <size_t K, typename Body>
std::array<double, K> chunked_sum(size_t n, int threads, Body&& body) {
  const size_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  std::vector<std::array<double, K>> partial(chunks, std::array<double, K>{});
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (long c = 0; c < static_cast<long>(chunks); ++c) {
    const size_t b = static_cast<size_t>(c) * kReduceChunk;
    const size_t e = b + kReduceChunk < n ? b + kReduceChunk : n;
    body(b, e, partial[c]);
  }
  std::array<double, K> total{};
  for (const auto& p : partial)
    for (size_t k = 0; k < K; ++k) total[k] += p[k];
  return total;
}

}  // namespace ppmf
