// Random entry splits and CSV output of ratings tables.
#include "ppmf/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ppmf/common.hpp"
#include "ppmf/csv_writer.hpp"

namespace ppmf {

Split split_random(const Ratings& all, double test_frac, uint64_t seed) {
  if (!(test_frac >= 0.0 && test_frac < 1.0)) throw Error("--test-frac must be in [0, 1)");
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
