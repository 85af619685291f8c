// Group assignment of entities (from `--user-groups` / `--item-groups` files) and the resolution of
// any table's string ids against a trained model: trained entity, the prior of a known group, or
// the population prior.
#pragma once

#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/model.hpp"
#include "ppmf/reader.hpp"

namespace ppmf {

// Groups for the ids of `ids`: the file's groups (sorted by name) plus "default" for ids absent
// from it; a single group "all" when there is no file.
Groups make_groups(const IdMap& ids, const GroupFile* file);

// Which information a prediction rests on; for a pair, the weaker of its user and item.
enum class Source : uint8_t { kTrained = 0, kGroup = 1, kPopulation = 2 };
const char* to_string(Source s);

struct ResolvedPairs {
  std::vector<PairIndex> index;  // extended indices (see backend.hpp)
  std::vector<Source> source;
};

// Resolves every entry of `table` against `model`. An unknown id goes to its group's prior when its
// group is known (from `groups` given now, or "default" when the model was trained with a group
// file and the id is absent from the one given now), else to the population prior. For unknown
// users that prior is the size-biased prior of a new user (see NewUserPrior) unless
// `plain_user_prior`.
ResolvedPairs resolve_pairs(const Model& model, const Ratings& table, const GroupFile* user_groups,
                            const GroupFile* item_groups, bool plain_user_prior = false);

// Users given by id, resolved as resolve_pairs resolves a table's users.
struct ResolvedUsers {
  std::vector<int32_t> index;  // extended user indices
  std::vector<Source> source;
};
ResolvedUsers resolve_users(const Model& model, const std::vector<std::string>& ids,
                            const GroupFile* user_groups, bool plain_user_prior = false);

// Indices of items given by id; throws Error naming the first id the model does not know.
std::vector<int32_t> find_items(const Model& model, const std::vector<std::string>& ids);

}  // namespace ppmf
