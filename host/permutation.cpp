// CPU twin of the device shuffle (kernels/shuffle.cu): entries sorted by their 64-bit keys with an
// LSD radix sort, 4 passes of 16 bits over (key, index) pairs.
#include "ppmf/permutation.hpp"

#include <array>

namespace ppmf {

void random_permutation(uint64_t seed, size_t n, std::vector<uint32_t>& perm) {
  struct Pair {
    uint64_t key;
    uint32_t index;
  };
  std::vector<Pair> a(n), b(n);
  const uint64_t base = splitmix64(seed);
  for (size_t k = 0; k < n; ++k) a[k] = {permutation_key(base, k), static_cast<uint32_t>(k)};
  std::vector<size_t> count(1 << 16);
  for (int pass = 0; pass < 4; ++pass) {
    const int shift = 16 * pass;
    std::fill(count.begin(), count.end(), 0);
    for (const Pair& p : a) ++count[(p.key >> shift) & 0xFFFF];
    size_t sum = 0;
    for (size_t& c : count) {
      const size_t here = c;
      c = sum;
      sum += here;
    }
    for (const Pair& p : a) b[count[(p.key >> shift) & 0xFFFF]++] = p;
    a.swap(b);
  }
  perm.resize(n);
  for (size_t k = 0; k < n; ++k) perm[k] = a[k].index;
}

}  // namespace ppmf
