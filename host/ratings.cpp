// Ratings helpers: compacting id maps to the ids in use, taking subsets, counting per index.
#include "ppmf/ratings.hpp"

#include <algorithm>

namespace ppmf {
namespace {

// Old index -> index in `to`, inserting names in the order their indices first appear in `idx`.
std::vector<int32_t> renumber(const IdMap& from, const std::vector<int32_t>& idx, IdMap& to) {
  std::vector<int32_t> remap(from.size(), -1);
  for (const int32_t k : idx) {
    if (remap[k] < 0) remap[k] = to.insert(from.name(k));
  }
  return remap;
}

std::vector<int32_t> count(size_t n, const std::vector<int32_t>& idx) {
  std::vector<int32_t> c(n, 0);
  for (const int32_t k : idx) ++c[k];
  return c;
}

}  // namespace

Ratings compact(const Ratings& r) {
  Ratings out;
  const std::vector<int32_t> user_map = renumber(r.users, r.user, out.users);
  const std::vector<int32_t> item_map = renumber(r.items, r.item, out.items);
  out.reserve(r.size());
  for (size_t e = 0; e < r.size(); ++e) {
    out.push(user_map[r.user[e]], item_map[r.item[e]], r.value[e]);
  }
  out.time = r.time;
  return out;
}

Ratings subset(const Ratings& r, const std::vector<size_t>& keep) {
  Ratings out;
  out.users = r.users;
  out.items = r.items;
  out.reserve(keep.size());
  for (const size_t e : keep) out.push(r.user[e], r.item[e], r.value[e]);
  if (!r.time.empty())
    for (const size_t e : keep) out.time.push_back(r.time[e]);
  return out;
}

std::vector<int32_t> count_per_user(const Ratings& r) {
  return count(r.users.size(), r.user);
}
std::vector<int32_t> count_per_item(const Ratings& r) {
  return count(r.items.size(), r.item);
}

std::vector<std::vector<int32_t>> items_per_user(const Ratings& r) {
  std::vector<std::vector<int32_t>> out(r.users.size());
  for (size_t k = 0; k < r.size(); ++k) out[r.user[k]].push_back(r.item[k]);
  for (auto& list : out) std::sort(list.begin(), list.end());
  return out;
}

}  // namespace ppmf
