// Group assignment and id resolution against a trained model.
#include "ppmf/groups.hpp"

#include <algorithm>
#include <set>

#include "ppmf/side_priors.hpp"

namespace ppmf {

Groups make_groups(const IdMap& ids, const GroupFile* file) {
  Groups g;
  if (file == nullptr) {
    g.names = {"all"};
    g.of.assign(ids.size(), 0);
    return g;
  }
  g.from_file = true;
  std::set<std::string> names;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto it = file->find(std::string(ids.name(static_cast<int32_t>(i))));
    names.insert(it == file->end() ? std::string("default") : it->second);
  }
  g.names.assign(names.begin(), names.end());
  g.of.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto it = file->find(std::string(ids.name(static_cast<int32_t>(i))));
    g.of[i] = g.find(it == file->end() ? "default" : it->second);
  }
  return g;
}

const char* to_string(Source s) {
  switch (s) {
    case Source::kTrained:
      return "trained";
    case Source::kGroup:
      return "group";
    default:
      return "population";
  }
}

namespace {

struct Resolved {
  int32_t index;
  Source source;
};

Resolved resolve_one(const Model& model, Side side, std::string_view id, const GroupFile* file,
                     bool new_user_rows) {
  const IdMap& ids = side == Side::kUsers ? model.users : model.items;
  const Groups& groups = side == Side::kUsers ? model.user_groups : model.item_groups;
  const int32_t known = ids.find(id);
  if (known >= 0) return {known, Source::kTrained};
  if (groups.from_file && file != nullptr) {
    const auto it = file->find(std::string(id));
    const int g = groups.find(it == file->end() ? "default" : it->second);
    if (g >= 0)
      return {new_user_rows ? new_user_index(model, g) : prior_index(model, side, g),
              Source::kGroup};
  }
  return {new_user_rows ? new_user_index(model, -1) : population_index(model, side),
          Source::kPopulation};
}

}  // namespace

ResolvedPairs resolve_pairs(const Model& model, const Ratings& table, const GroupFile* user_groups,
                            const GroupFile* item_groups, bool plain_user_prior) {
  // Resolve each distinct id of the table once, then map the entries.
  std::vector<Resolved> users(table.users.size()), items(table.items.size());
  for (size_t u = 0; u < users.size(); ++u)
    users[u] = resolve_one(model, Side::kUsers, table.users.name(static_cast<int32_t>(u)),
                           user_groups, !plain_user_prior);
  for (size_t i = 0; i < items.size(); ++i)
    items[i] = resolve_one(model, Side::kItems, table.items.name(static_cast<int32_t>(i)),
                           item_groups, false);
  ResolvedPairs out;
  out.index.resize(table.size());
  out.source.resize(table.size());
  for (size_t k = 0; k < table.size(); ++k) {
    const Resolved& u = users[table.user[k]];
    const Resolved& i = items[table.item[k]];
    out.index[k] = {u.index, i.index};
    out.source[k] = std::max(u.source, i.source);
  }
  return out;
}

ResolvedUsers resolve_users(const Model& model, const std::vector<std::string>& ids,
                            const GroupFile* user_groups, bool plain_user_prior) {
  ResolvedUsers out;
  out.index.reserve(ids.size());
  out.source.reserve(ids.size());
  for (const std::string& id : ids) {
    const Resolved r = resolve_one(model, Side::kUsers, id, user_groups, !plain_user_prior);
    out.index.push_back(r.index);
    out.source.push_back(r.source);
  }
  return out;
}

std::vector<int32_t> find_items(const Model& model, const std::vector<std::string>& ids) {
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (const std::string& id : ids) {
    const int32_t j = model.items.find(id);
    if (j < 0) throw Error("item '" + id + "' is not in the model");
    out.push_back(j);
  }
  return out;
}

}  // namespace ppmf
