// Distributed training's data and model pieces (distributed.hpp, distributed_training.hpp).
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <set>
#include <sstream>
#include <unordered_set>

#include "distributed_training.hpp"
#include "ppmf/distributed.hpp"
#include "ppmf/model_file.hpp"

namespace ppmf {
namespace {

// Length-prefixed fields in a byte string, read back in the same order.
class Packer {
 public:
  explicit Packer(std::string& out) : out_(out) {}
  template <class T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(std::string_view s) {
    put(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }

 private:
  std::string& out_;
};

class Unpacker {
 public:
  explicit Unpacker(std::string_view in) : in_(in) {}
  bool done() const { return at_ == in_.size(); }
  template <class T>
  T get() {
    T v;
    need(sizeof v);
    std::memcpy(&v, in_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::string_view str() {
    const uint32_t n = get<uint32_t>();
    need(n);
    const std::string_view s = in_.substr(at_, n);
    at_ += n;
    return s;
  }

 private:
  void need(size_t n) const {
    if (in_.size() - at_ < n) throw Error("internal: a truncated message between ranks");
  }
  std::string_view in_;
  size_t at_ = 0;
};

std::string pack_names(const std::vector<std::string>& names) {
  std::string out;
  Packer p(out);
  for (const auto& n : names) p.str(n);
  return out;
}

std::vector<std::string> unpack_names(std::string_view bytes) {
  std::vector<std::string> out;
  Unpacker u(bytes);
  while (!u.done()) out.emplace_back(u.str());
  return out;
}

// Appends `part`'s entries to `into`, re-interning their ids.
void append_table(Ratings& into, const Ratings& part) {
  if (into.size() > 0 && into.time.empty() != part.time.empty())
    throw Error("some files have entry times and others do not");
  into.reserve(into.size() + part.size());
  std::vector<int32_t> user_map(part.users.size()), item_map(part.items.size());
  for (size_t k = 0; k < user_map.size(); ++k)
    user_map[k] = into.users.insert(part.users.name(static_cast<int32_t>(k)));
  for (size_t k = 0; k < item_map.size(); ++k)
    item_map[k] = into.items.insert(part.items.name(static_cast<int32_t>(k)));
  for (size_t e = 0; e < part.size(); ++e)
    into.push(user_map[part.user[e]], item_map[part.item[e]], part.value[e]);
  into.time.insert(into.time.end(), part.time.begin(), part.time.end());
}

void add_report(ReadReport& into, const ReadReport& r) {
  into.lines_read += r.lines_read;
  into.bad_lines_skipped += r.bad_lines_skipped;
  if (into.delimiter.empty()) into.delimiter = r.delimiter;
  into.had_header = into.had_header || r.had_header;
}

// Merges repeats across files by `opts.duplicates`; under "error" names the pair and its files.
void merge_across_files(Ratings& r, const ReadOptions& opts,
                        const std::vector<uint32_t>& file_of_entry,
                        const std::vector<std::string>& files, ReadReport& report) {
  if (!opts.need_value) return;
  if (opts.duplicates == DuplicatePolicy::kError) {
    std::unordered_set<uint64_t> seen;
    std::vector<size_t> first_at;
    for (size_t e = 0; e < r.size(); ++e) {
      const uint64_t key = (static_cast<uint64_t>(r.user[e]) << 32) | static_cast<uint32_t>(r.item[e]);
      if (seen.insert(key).second) continue;
      size_t first = 0;
      while (r.user[first] != r.user[e] || r.item[first] != r.item[e]) ++first;
      const std::string& a = files[file_of_entry[first]];
      const std::string& b = files[file_of_entry[e]];
      throw Error("user '" + std::string(r.users.name(r.user[e])) + "', item '" +
                  std::string(r.items.name(r.item[e])) + "' appears twice (" +
                  (a == b ? "in " + a : "in " + a + " and " + b) +
                  "); choose a duplicates policy (sum, mean or last) to merge repeats");
    }
    return;
  }
  report.duplicates_merged += merge_duplicate_entries(r, opts.duplicates, "the data");
}

}  // namespace

int owner_of(std::string_view user_id, int ranks) {
  return static_cast<int>(splitmix64(hash_id(user_id) ^ 0x6f776e6572ULL) % static_cast<uint64_t>(ranks));
}

Ratings owned_entries(const Ratings& all, const Comm& comm) {
  Ratings r;
  const bool timed = !all.time.empty();
  for (size_t e = 0; e < all.size(); ++e) {
    const std::string_view user = all.users.name(all.user[e]);
    if (owner_of(user, comm.size()) != comm.rank()) continue;
    r.push(r.users.insert(user), r.items.insert(all.items.name(all.item[e])), all.value[e]);
    if (timed) r.time.push_back(all.time[e]);
  }
  return r;
}

std::vector<std::string> expand_data_paths(const std::string& spec) {
  std::vector<std::string> files;
  std::stringstream ss(spec);
  for (std::string part; std::getline(ss, part, ',');) {
    if (part.empty()) continue;
    if (part.find_first_of("*?[") == std::string::npos) {
      files.push_back(part);
      continue;
    }
    glob_t g{};
    const int rc = ::glob(part.c_str(), 0, nullptr, &g);
    if (rc == 0)
      for (size_t k = 0; k < g.gl_pathc; ++k) files.emplace_back(g.gl_pathv[k]);
    globfree(&g);
    if (rc == GLOB_NOMATCH) throw Error(part + ": no file matches this pattern");
    if (rc != 0) throw Error(part + ": cannot expand this pattern");
  }
  if (files.empty()) throw Error("no data files given");
  return files;  // glob() sorts each pattern's matches
}

Ratings read_tables(const std::vector<std::string>& files, const ReadOptions& opts,
                    ReadReport* report) {
  if (files.size() == 1) return read_ratings(files[0], opts, report);
  ReadOptions keep = opts;
  keep.merge_duplicates = false;
  Ratings all;
  ReadReport total;
  std::vector<uint32_t> file_of_entry;
  for (size_t f = 0; f < files.size(); ++f) {
    ReadReport r;
    append_table(all, read_ratings(files[f], keep, &r));
    add_report(total, r);
    file_of_entry.resize(all.size(), static_cast<uint32_t>(f));
  }
  merge_across_files(all, opts, file_of_entry, files, total);
  if (report) *report = total;
  return all;
}

Ratings read_distributed(Comm& comm, const std::vector<std::string>& listed,
                         const ReadOptions& opts, ReadReport* report,
                         bool every_rank_needs_entries) {
  const int P = comm.size(), me = comm.rank();
  ReadReport mine;
  // Rank 0's files and sizes, on every rank.
  std::vector<std::string> files;
  std::vector<uint64_t> size;
  {
    std::string bytes;
    if (me == 0) {
      Packer p(bytes);
      for (const std::string& f : listed) {
        struct stat st {};
        p.str(f);
        p.put(static_cast<uint64_t>(::stat(f.c_str(), &st) == 0 ? st.st_size : 0));
      }
    }
    bytes = comm.broadcast(bytes, 0);
    Unpacker u(bytes);
    while (!u.done()) {
      files.emplace_back(u.str());
      size.push_back(u.get<uint64_t>());
    }
  }
  // This rank's files: largest first, each to the rank with the fewest bytes so far.
  std::vector<std::string> to(P);
  on_every_rank(comm, [&] {
    std::vector<size_t> order(files.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return size[a] > size[b]; });
    std::vector<uint64_t> load(P, 0);
    std::vector<size_t> assigned;
    for (const size_t f : order) {
      const int r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
      load[r] += size[f] + 1;
      if (r == me) assigned.push_back(f);
    }
    std::sort(assigned.begin(), assigned.end());
    ReadOptions keep = opts;
    keep.merge_duplicates = false;
    std::vector<Packer> packers;
    for (auto& s : to) packers.emplace_back(s);
    for (const size_t f : assigned) {
      ReadReport r;
      const Ratings t = read_ratings(files[f], keep, &r);
      add_report(mine, r);
      for (size_t e = 0; e < t.size(); ++e) {
        const std::string_view user = t.users.name(t.user[e]);
        Packer& p = packers[owner_of(user, P)];
        p.put(static_cast<uint32_t>(f));
        p.put(static_cast<uint64_t>(e));
        p.str(user);
        p.str(t.items.name(t.item[e]));
        p.put(t.value[e]);
        p.put(t.time.empty() ? std::nan("") : t.time[e]);
      }
    }
  });
  const std::vector<std::string> from = comm.all_to_all(std::move(to));
  return on_every_rank(comm, [&] {
    struct Entry {
      uint32_t file;
      uint64_t at;
      std::string_view user, item;
      float value;
      double time;
    };
    std::vector<Entry> entries;
    for (const std::string& bytes : from) {
      Unpacker u(bytes);
      while (!u.done()) {
        Entry e;
        e.file = u.get<uint32_t>();
        e.at = u.get<uint64_t>();
        e.user = u.str();
        e.item = u.str();
        e.value = u.get<float>();
        e.time = u.get<double>();
        entries.push_back(e);
      }
    }
    // The global input order: file, then position in the file.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return a.file != b.file ? a.file < b.file : a.at < b.at;
    });
    Ratings r;
    r.reserve(entries.size());
    std::vector<uint32_t> file_of_entry;
    file_of_entry.reserve(entries.size());
    const bool timed = !entries.empty() && !std::isnan(entries[0].time);
    for (const Entry& e : entries) {
      r.push(r.users.insert(e.user), r.items.insert(e.item), e.value);
      if (timed) r.time.push_back(e.time);
      file_of_entry.push_back(e.file);
    }
    merge_across_files(r, opts, file_of_entry, files, mine);
    if (r.size() == 0 && every_rank_needs_entries)
      throw Error("no entries for this rank's users (" + std::to_string(P) +
                  " ranks for too few users: use fewer ranks)");
    if (report) *report = mine;
    return r;
  });
}

Ratings compact_across(const Ratings& local, Comm& comm) {
  Ratings c = compact(local);
  if (comm.size() == 1) return c;
  const std::vector<std::string> lists = comm.all_gather(pack_names(c.items.names()));
  IdMap items;
  for (const std::string& list : lists)
    for (const std::string& name : unpack_names(list)) items.insert(name);
  std::vector<int32_t> remap(c.items.size());
  for (size_t k = 0; k < remap.size(); ++k) remap[k] = items.find(c.items.name(static_cast<int32_t>(k)));
  for (int32_t& i : c.item) i = remap[i];
  c.items = std::move(items);
  return c;
}

void agree_groups(Groups& g, Comm& comm) {
  if (comm.size() == 1) return;
  std::set<std::string> names;
  for (const std::string& list : comm.all_gather(pack_names(g.names)))
    for (std::string& name : unpack_names(list)) names.insert(std::move(name));
  Groups agreed;
  agreed.from_file = g.from_file;
  agreed.names.assign(names.begin(), names.end());
  agreed.of.resize(g.of.size());
  for (size_t i = 0; i < g.of.size(); ++i) agreed.of[i] = agreed.find(g.names[g.of[i]]);
  g = std::move(agreed);
}

std::vector<int32_t> sum_counts(const std::vector<int32_t>& local, Comm& comm) {
  std::vector<double> c(local.begin(), local.end());
  comm.sum(c);
  return std::vector<int32_t>(c.begin(), c.end());
}

namespace {

void append_rows(GuideBlock& into, const GuideBlock& part) {
  if (part.n == 0) return;
  into.mean.insert(into.mean.end(), part.mean.begin(), part.mean.end());
  into.logsd.insert(into.logsd.end(), part.logsd.begin(), part.logsd.end());
  into.bias_mean.insert(into.bias_mean.end(), part.bias_mean.begin(), part.bias_mean.end());
  into.bias_logsd.insert(into.bias_logsd.end(), part.bias_logsd.begin(), part.bias_logsd.end());
  into.n += part.n;
}

// `part`'s users (rows, counts, groups, seen lists, watch rows) after `into`'s.
void append_users(Model& into, const Model& part) {
  for (size_t i = 0; i < part.users.size(); ++i) {
    const std::string_view name = part.users.name(static_cast<int32_t>(i));
    if (into.users.find(name) >= 0)
      throw Error("internal: user '" + std::string(name) + "' trained on two ranks");
    into.users.insert(name);
  }
  append_rows(into.U, part.U);
  into.user_count.insert(into.user_count.end(), part.user_count.begin(), part.user_count.end());
  for (const int32_t g : part.user_groups.of)
    into.user_groups.of.push_back(into.user_groups.find(part.user_groups.names[g]));
  const uint64_t base = into.seen_items.size();
  into.seen_items.insert(into.seen_items.end(), part.seen_items.begin(), part.seen_items.end());
  for (size_t k = 1; k < part.seen_offsets.size(); ++k)
    into.seen_offsets.push_back(base + part.seen_offsets[k]);
  if (into.watch.present) append_rows(into.watch.U, part.watch.U);
}

}  // namespace

Model gather_model(Model local, Comm& comm, int root) {
  if (comm.size() == 1) return local;
  std::vector<std::string> to(comm.size());
  if (comm.rank() != root)
    to[root] = on_every_rank(comm, [&] { return model_file_bytes(local); });
  const std::vector<std::string> from = comm.all_to_all(std::move(to));
  if (comm.rank() != root) return local;
  return on_every_rank(comm, [&] {
    for (int r = 0; r < comm.size(); ++r)
      if (r != root) append_users(local, parse_model("the model part of rank " + std::to_string(r), from[r]));
    return local;
  });
}

}  // namespace ppmf
