// Train / held-out splits of a ratings table, and writing tables back as CSV with their string ids.
#pragma once

#include <string>
#include <vector>

#include "ppmf/ratings.hpp"

namespace ppmf {

struct Split {
  Ratings train, test;
};

// A uniformly random entry split: exactly round(test_frac * n) entries held out, seeded.
Split split_random(const Ratings& all, double test_frac, uint64_t seed);

// Entry (user, item) is held out when a hash of its two ids and the seed falls below `frac`: the
// same entries whatever the file order or the partitioning of the data (the validation split).
Split split_by_hash(const Ratings& all, double frac, uint64_t seed);
// Mixed into the seed of a held-out test split (train --test-frac), so that it is drawn apart
// from the validation split that split_by_hash(..., seed) carves from the rest.
constexpr uint64_t kTestSplitSalt = 0x7465737473706c74ULL;

// CSV with the table's string ids and values printed to round-trip a float; `values` (one per
// entry) replaces the table's own values when given.
void write_ratings_csv(const Ratings& r, const std::string& path,
                       const std::string& header = "user,item,value",
                       const std::vector<float>* values = nullptr);

}  // namespace ppmf
