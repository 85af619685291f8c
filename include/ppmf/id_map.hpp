// String ids <-> dense indices. Users give ids as strings ("u123", "42", an email); the model works
// on 0..n-1 and writes the same strings back. Open addressing over an arena keeps lookups fast
// enough for the reader's 100 MB/s budget.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ppmf {

class IdMap {
 public:
  IdMap() = default;
  explicit IdMap(const std::vector<std::string>& names);

  // Index of `id`, or -1 if absent.
  int32_t find(std::string_view id) const;
  // Index of `id`, inserting it at the end if absent.
  int32_t insert(std::string_view id);
  std::string_view name(int32_t index) const {
    return std::string_view(arena_.data() + offsets_[index], offsets_[index + 1] - offsets_[index]);
  }
  size_t size() const { return offsets_.size() - 1; }
  std::vector<std::string> names() const;

 private:
  static uint64_t hash(std::string_view s);
  void grow();

  std::string arena_;                 // all names back to back
  std::vector<uint64_t> offsets_{0};  // name k is arena_[offsets_[k], offsets_[k+1])
  std::vector<int32_t> slots_;        // open-addressing table of indices, -1 = empty
};

}  // namespace ppmf
