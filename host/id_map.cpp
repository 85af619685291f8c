// IdMap: names stored back to back in one arena, found through a linear-probing table of indices
// kept at most half full, so a lookup is one hash and usually one string compare.
#include "ppmf/id_map.hpp"

#include <cstring>
#include <limits>

#include "ppmf/common.hpp"

namespace ppmf {
namespace {

constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;

uint64_t load8(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

}  // namespace

IdMap::IdMap(const std::vector<std::string>& names) {
  if (names.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    throw Error("more than 2147483647 distinct ids");
  }
  size_t bytes = 0;
  for (const std::string& n : names) bytes += n.size();
  arena_.reserve(bytes);
  offsets_.reserve(names.size() + 1);
  size_t capacity = 16;
  while (capacity < 2 * names.size()) capacity *= 2;
  slots_.assign(capacity, -1);
  const size_t mask = capacity - 1;
  // With millions of names the table dwarfs the caches. Hashing everything first lets the slot of
  // a name a few places ahead be prefetched, so the misses overlap, and lets a probe reject an
  // occupied slot by its hash instead of fetching that name from the arena.
  std::vector<uint64_t> hashes(names.size());
  for (size_t k = 0; k < names.size(); ++k) hashes[k] = hash(names[k]);
  constexpr size_t kAhead = 16;
  for (size_t k = 0; k < names.size(); ++k) {
    if (k + kAhead < names.size()) __builtin_prefetch(&slots_[hashes[k + kAhead] & mask]);
    size_t s = hashes[k] & mask;
    for (; slots_[s] >= 0; s = (s + 1) & mask) {
      const int32_t j = slots_[s];
      if (hashes[j] == hashes[k] && name(j) == names[k]) {
        throw Error("duplicate id '" + names[k] + "'");
      }
    }
    slots_[s] = static_cast<int32_t>(k);
    arena_.append(names[k]);
    offsets_.push_back(arena_.size());
  }
}

// Eight bytes per multiply, then a murmur3 finalizer so the low bits (the slot) depend on them all.
uint64_t IdMap::hash(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = n * kMul;
  for (; n >= 8; n -= 8, p += 8) h = (h ^ load8(p)) * kMul, h ^= h >> 29;
  if (n > 0) {
    uint64_t tail = 0;
    std::memcpy(&tail, p, n);
    h = (h ^ tail) * kMul;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

int32_t IdMap::find(std::string_view id) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  for (size_t s = hash(id) & mask;; s = (s + 1) & mask) {
    const int32_t k = slots_[s];
    if (k < 0 || name(k) == id) return k;
  }
}

int32_t IdMap::insert(std::string_view id) {
  if ((size() + 1) * 2 > slots_.size()) grow();
  const size_t mask = slots_.size() - 1;
  for (size_t s = hash(id) & mask;; s = (s + 1) & mask) {
    const int32_t k = slots_[s];
    if (k >= 0) {
      if (name(k) == id) return k;
      continue;
    }
    if (size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
      throw Error("more than 2147483647 distinct ids");
    }
    const auto index = static_cast<int32_t>(size());
    arena_.append(id);
    offsets_.push_back(arena_.size());
    slots_[s] = index;
    return index;
  }
}

void IdMap::grow() {
  const size_t n = slots_.empty() ? 16 : slots_.size() * 2;
  slots_.assign(n, -1);
  const size_t mask = n - 1;
  for (size_t k = 0; k < size(); ++k) {
    size_t s = hash(name(static_cast<int32_t>(k))) & mask;
    while (slots_[s] >= 0) s = (s + 1) & mask;
    slots_[s] = static_cast<int32_t>(k);
  }
}

std::vector<std::string> IdMap::names() const {
  std::vector<std::string> out;
  out.reserve(size());
  for (size_t k = 0; k < size(); ++k) out.emplace_back(name(static_cast<int32_t>(k)));
  return out;
}

}  // namespace ppmf
