// Reading delimited text: ratings (user,item,value), pairs (user,item), and group files (id,group).
// The delimiter (comma, tab, '::' or whitespace), a header row, CRLF, a UTF-8 BOM and gzip are all
// detected. Errors name file:line and the reason.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "ppmf/ratings.hpp"

namespace ppmf {

enum class DuplicatePolicy { kError, kSum, kMean, kLast };
DuplicatePolicy parse_duplicate_policy(const std::string& s);
const char* to_string(DuplicatePolicy p);

struct ReadOptions {
  // Columns as header names or 1-based positions, in the order user,item[,value]. Empty = 1,2,3.
  std::vector<std::string> columns;
  bool skip_bad_lines = false;
  DuplicatePolicy duplicates = DuplicatePolicy::kError;
  bool need_value = true;  // false for pair files (predict)
  // A column of entry times (header name or 1-based position; empty = none): epoch seconds or
  // dates (YYYY-MM-DD[THH:MM[:SS]]), read into Ratings::time as seconds since 1970 UTC.
  std::string time_column;
  // false: repeated (user, item) entries are kept, for callers that read several files and merge
  // the repeats across all of them (distributed.hpp); `duplicates` is then not applied here.
  bool merge_duplicates = true;
};

struct ReadReport {
  size_t lines_read = 0;
  size_t bad_lines_skipped = 0;
  size_t duplicates_merged = 0;
  std::string delimiter;  // as detected, for messages
  bool had_header = false;
};

// Whole file into memory; transparently gunzips (by magic bytes, not by name).
std::string read_file_bytes(const std::string& path);
// The same for bytes already in memory; `name` is used in error messages.
std::string decompress_if_gzip(const std::string& name, std::string bytes);

Ratings read_ratings(const std::string& path, const ReadOptions& opts,
                     ReadReport* report = nullptr);

// Parses an in-memory buffer; `name` is used in error messages.
Ratings parse_ratings(const std::string& name, std::string_view text, const ReadOptions& opts,
                      ReadReport* report = nullptr);

// Merges repeated (user, item) entries of a table built in memory (the Python package's arrays) by
// `policy`, as the reader does; kError throws an Error naming the first repeat and the entry it
// repeats by their 0-based positions in `name`. Returns the number of entries merged away.
size_t merge_duplicate_entries(Ratings& r, DuplicatePolicy policy, const std::string& name);

// id -> group name, from a CSV "id,group" (header optional).
using GroupFile = std::unordered_map<std::string, std::string>;
GroupFile read_group_file(const std::string& path);
GroupFile parse_group_file(const std::string& name, std::string_view text);  // `name`: for messages

}  // namespace ppmf
