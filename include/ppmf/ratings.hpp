// A table of observed entries as loaded from a file: COO arrays of dense indices into the table's
// own user and item id maps. The model keeps its own maps (ids seen in training); tables from other
// files are resolved against them by name.
#pragma once

#include <cstdint>
#include <vector>

#include "ppmf/id_map.hpp"

namespace ppmf {

struct Ratings {
  IdMap users, items;
  std::vector<int32_t> user, item;
  std::vector<float> value;
  std::vector<double> time;  // seconds since 1970 per entry, or empty when the file had none

  size_t size() const { return value.size(); }
  void reserve(size_t n) {
    user.reserve(n);
    item.reserve(n);
    value.reserve(n);
  }
  void push(int32_t u, int32_t i, float v) {
    user.push_back(u);
    item.push_back(i);
    value.push_back(v);
  }
};

// The same entries (and times) with id maps holding only ids that occur in them (indices renumbered in first-
// occurrence order). Used to turn the training part of a split into the model's entity set.
Ratings compact(const Ratings& r);

// Entries whose index is listed in `keep`, sharing the source's id maps.
Ratings subset(const Ratings& r, const std::vector<size_t>& keep);

// The items of each user (by index of the user map), sorted.
std::vector<std::vector<int32_t>> items_per_user(const Ratings& r);

// Training entries per index of each id map.
std::vector<int32_t> count_per_user(const Ratings& r);
std::vector<int32_t> count_per_item(const Ratings& r);

}  // namespace ppmf
