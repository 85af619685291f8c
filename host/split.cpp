// Random entry splits and CSV output of ratings tables.
#include "ppmf/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ppmf/common.hpp"
#include "ppmf/csv_writer.hpp"

namespace ppmf {

Split split_random(const Ratings& all, double test_frac, uint64_t seed) {
  if (!(test_frac >= 0.0 && test_frac < 1.0))
    throw ConfigError("test_frac", "must be in [0, 1), got " + std::to_string(test_frac));
  std::vector<size_t> order(all.size());
  std::iota(order.begin(), order.end(), size_t{0});
  Rng rng(seed);
  for (size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[rng.below(k)]);
  const size_t n_test =
      static_cast<size_t>(std::llround(test_frac * static_cast<double>(all.size())));
  std::vector<size_t> test(order.begin(), order.begin() + n_test);
  std::vector<size_t> train(order.begin() + n_test, order.end());
  // Keep file order inside each part, so a split is easy to diff against its source.
  std::sort(test.begin(), test.end());
  std::sort(train.begin(), train.end());
  return {subset(all, train), subset(all, test)};
}

Split split_by_hash(const Ratings& all, double frac, uint64_t seed) {
  if (!(frac >= 0.0 && frac < 1.0)) throw Error("the held-out fraction must be in [0, 1)");
  const uint64_t salt = splitmix64(seed ^ 0x7661'6c69'6461'7465ULL);
  std::vector<uint64_t> user_hash(all.users.size()), item_hash(all.items.size());
  for (size_t u = 0; u < user_hash.size(); ++u)
    user_hash[u] = hash_id(all.users.name(static_cast<int32_t>(u)));
  for (size_t j = 0; j < item_hash.size(); ++j)
    item_hash[j] = hash_id(all.items.name(static_cast<int32_t>(j)));
  std::vector<size_t> train, held;
  for (size_t k = 0; k < all.size(); ++k) {
    const uint64_t h = splitmix64(user_hash[all.user[k]] + splitmix64(item_hash[all.item[k]] ^ salt));
    (hash_fraction(h) < frac ? held : train).push_back(k);
  }
  return {subset(all, train), subset(all, held)};
}

void write_ratings_csv(const Ratings& r, const std::string& path, const std::string& header,
                       const std::vector<float>* values) {
  if (values && values->size() != r.size()) throw Error(path + ": one value per entry is needed");
  CsvWriter w(path);
  w.write(header).end_line();
  for (size_t k = 0; k < r.size(); ++k) {
    w.field(r.users.name(r.user[k]))
        .sep()
        .field(r.items.name(r.item[k]))
        .sep()
        .number(values ? (*values)[k] : r.value[k])
        .end_line();
  }
  w.close();
}

}  // namespace ppmf
