// Delimited-text readers. The whole file is loaded (gunzipped if needed) and scanned once: lines,
// then fields as string_views, with ids interned straight from the text, so nothing is allocated
// per line. Duplicates are found afterwards by taking the entries user by user.
#include "ppmf/reader.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#if PPMF_WITH_ZLIB
#include <zlib.h>
#endif

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "ppmf/cancel.hpp"
#include "ppmf/common.hpp"

namespace ppmf {
namespace {

// ---------------------------------------------------------------------------------------------
// Memory

// Asks Linux to back a large buffer with 2 MB pages before it is first touched: the id tables are
// probed at random, and with 4 KB pages nearly every probe of a big table is also a TLB miss (and
// every 4 KB first touched a page fault, which is slow under virtualization).
void advise_huge_pages(const void* p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_HUGEPAGE);
#else
  (void)p, (void)bytes;
#endif
}

template <class T>
void reserve_huge(std::vector<T>& v, size_t n) {
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
}

// ---------------------------------------------------------------------------------------------
// Files

std::string cannot(const std::string& path, const char* what) {
  return path + ": cannot " + what + ": " + std::strerror(errno);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// A string of `n` bytes whose pages are advised before the zero fill touches them.
std::string huge_string(size_t n) {
  std::string s;
  s.reserve(n);
  advise_huge_pages(s.data(), n);
  s.resize(n);
  return s;
}

std::string read_plain(const std::string& path) {
  const std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw Error(cannot(path, "open"));
  // One byte past the size, so a regular file is read in one call and EOF seen by the next.
  struct stat st {};
  const bool regular = fstat(fileno(f.get()), &st) == 0 && S_ISREG(st.st_mode);
  std::string out = huge_string(regular ? static_cast<size_t>(st.st_size) + 1 : size_t{1} << 20);
  size_t used = 0;
  for (;;) {
    used += std::fread(out.data() + used, 1, out.size() - used, f.get());
    if (used < out.size()) break;
    out.resize(out.size() * 2);
  }
  if (std::ferror(f.get())) throw Error(cannot(path, "read"));
  out.resize(used);
  return out;
}

#if PPMF_WITH_ZLIB
struct InflateEnd {
  z_stream* zs;
  ~InflateEnd() { inflateEnd(zs); }
};

std::string gunzip(const std::string& path, const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw Error(path + ": cannot start zlib");
  const InflateEnd guard{&zs};
  // zlib counts in 32-bit units, so huge buffers are fed in pieces.
  constexpr size_t kMaxChunk = size_t{1} << 30;
  std::string out = huge_string(std::max<size_t>(in.size() * 4, size_t{1} << 16));
  size_t in_pos = 0, out_pos = 0;
  for (;;) {
    if (out_pos == out.size()) out.resize(out.size() * 2);
    const size_t in_chunk = std::min(in.size() - in_pos, kMaxChunk);
    const size_t out_chunk = std::min(out.size() - out_pos, kMaxChunk);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_pos));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_pos);
    zs.avail_out = static_cast<uInt>(out_chunk);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_pos += in_chunk - zs.avail_in;
    out_pos += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      if (in_pos == in.size()) break;
      inflateReset(&zs);  // another member follows, as `cat a.gz b.gz` makes
    } else if (rc == Z_BUF_ERROR && in_pos == in.size()) {
      throw Error(path + ": truncated gzip data");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw Error(path + ": corrupt gzip data" + (zs.msg ? std::string(" (") + zs.msg + ")" : ""));
    }
  }
  out.resize(out_pos);
  return out;
}
#else
std::string gunzip(const std::string& path, const std::string&) {
  throw Error(path + ": gzip-compressed, but this build has no zlib (install zlib1g-dev and "
              "rebuild, or gunzip the file first)");
}
#endif

// ---------------------------------------------------------------------------------------------
// Lines and fields

enum class Delim { kComma, kTab, kColons, kWhitespace };

const char* delim_name(Delim d) {
  switch (d) {
    case Delim::kComma:
      return "comma";
    case Delim::kTab:
      return "tab";
    case Delim::kColons:
      return "::";
    case Delim::kWhitespace:
      return "whitespace";
  }
  return "";
}

Delim detect_delimiter(std::string_view line) {
  if (line.find("::") != std::string_view::npos) return Delim::kColons;
  if (line.find('\t') != std::string_view::npos) return Delim::kTab;
  if (line.find(',') != std::string_view::npos) return Delim::kComma;
  return Delim::kWhitespace;
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Yields the lines that carry data with their 1-based numbers; skips a UTF-8 BOM, the '\r' of
// CRLF, blank lines and '#' comments.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {
    if (text.size() >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;
  }

  bool next(std::string_view& line) {
    while (p_ < end_) {
      const char* b = p_;
      const auto* nl = static_cast<const char*>(std::memchr(b, '\n', end_ - b));
      const char* e = nl ? nl : end_;
      p_ = nl ? nl + 1 : end_;
      ++number_;
      if (e > b && e[-1] == '\r') --e;
      if (b == e || *b == '#' || (is_blank(*b) && std::all_of(b, e, is_blank))) continue;
      line = std::string_view(b, e - b);
      return true;
    }
    return false;
  }
  size_t number() const { return number_; }

 private:
  const char* p_;
  const char* end_;
  size_t number_ = 0;
};

// Splits one line. Comma, tab and '::' fields are trimmed of spaces (and of tabs where tab is not
// the delimiter); a comma field may be double-quoted, which protects commas inside it.
class FieldCursor {
 public:
  FieldCursor(std::string_view line, Delim d)
      : p_(line.data()),
        end_(line.data() + line.size()),
        delim_(d),
        sep_(d == Delim::kComma ? ','
             : d == Delim::kTab ? '\t'
                                : ':') {}

  // The next field, or false when the line has no more.
  bool next(std::string_view& field) {
    if (delim_ == Delim::kWhitespace) {
      while (p_ < end_ && is_blank(*p_)) ++p_;
      if (p_ == end_) return false;
      const char* b = p_;
      while (p_ < end_ && !is_blank(*p_)) ++p_;
      field = std::string_view(b, p_ - b);
      return true;
    }
    if (done_) return false;
    const char* b = p_;
    while (b < end_ && is_trimmed(*b)) ++b;
    const char* close = nullptr;
    if (delim_ == Delim::kComma && b < end_ && *b == '"') {
      close = static_cast<const char*>(std::memchr(b + 1, '"', end_ - b - 1));
    }
    const char* d = find_sep(close ? close + 1 : b);
    done_ = d == nullptr;
    p_ = done_ ? end_ : d + (delim_ == Delim::kColons ? 2 : 1);
    if (close) {
      field = std::string_view(b + 1, close - b - 1);
      return true;
    }
    const char* e = done_ ? end_ : d;
    while (e > b && is_trimmed(e[-1])) --e;
    field = std::string_view(b, e - b);
    return true;
  }

 private:
  bool is_trimmed(char c) const { return c == ' ' || (c == '\t' && delim_ != Delim::kTab); }

  // Fields are short, so a plain loop beats a memchr call here.
  const char* find_sep(const char* from) const {
    for (;;) {
      const char* d = from;
      while (d < end_ && *d != sep_) ++d;
      if (d == end_) return nullptr;
      if (delim_ != Delim::kColons || (d + 1 < end_ && d[1] == ':')) return d;
      from = d + 1;
    }
  }

  const char* p_;
  const char* end_;
  Delim delim_;
  char sep_;
  bool done_ = false;
};

std::vector<std::string_view> split_all(std::string_view line, Delim d) {
  std::vector<std::string_view> fields;
  FieldCursor cur(line, d);
  for (std::string_view f; cur.next(f);) fields.push_back(f);
  return fields;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Header names that mark a first line as a header when nothing else can (pair and group files).
bool is_id_column_name(std::string_view s) {
  for (const char* n :
       {"user", "item", "user_id", "item_id", "userid", "movieid", "itemid", "id"}) {
    if (iequals(s, n)) return true;
  }
  return false;
}

// Quoted for a message, cut short so one bad field cannot flood the terminal.
std::string quote(std::string_view s) {
  constexpr size_t kMax = 64;
  if (s.size() <= kMax) return "'" + std::string(s) + "'";
  return "'" + std::string(s.substr(0, kMax)) + "...'";
}

constexpr char kUnparsable[] = "unparsable value";

// nullptr on success, else why `s` is not a usable value (kUnparsable when it is not a number).
const char* parse_value(std::string_view s, float& v) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b < e && *b == '+') {
    ++b;
    if (b < e && *b == '-') return kUnparsable;
  }
  const auto [ptr, ec] = std::from_chars(b, e, v);
  if (ec == std::errc::invalid_argument || ptr != e) return kUnparsable;
  if (ec == std::errc::result_out_of_range) return "value out of float range";
  if (!std::isfinite(v)) return "value is not finite";
  return nullptr;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Reads `count` digits at s[at..]; false when they are not all digits.
bool digits(std::string_view s, size_t at, size_t count, unsigned& out) {
  if (at + count > s.size()) return false;
  out = 0;
  for (size_t k = at; k < at + count; ++k) {
    if (s[k] < '0' || s[k] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[k] - '0');
  }
  return true;
}

// Seconds since 1970-01-01 UTC of a time field: a number (epoch seconds), or a date YYYY-MM-DD
// optionally followed by 'T' or ' ' and HH:MM[:SS[.fraction]], and an optional 'Z'. nullptr on
// success, else why not.
const char* parse_time(std::string_view s, double& t) {
  const char* b = s.data();
  const char* e = b + s.size();
  const auto [ptr, ec] = std::from_chars(b, e, t);
  if (ec == std::errc() && ptr == e) return std::isfinite(t) ? nullptr : "time is not finite";
  unsigned y, mo, d;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || mo < 1 || mo > 12 || d < 1 || d > 31)
    return "unparsable time (expected epoch seconds or YYYY-MM-DD[THH:MM[:SS]])";
  double seconds = 86400.0 * static_cast<double>(days_from_civil(y, mo, d));
  size_t at = 10;
  if (at < s.size() && (s[at] == 'T' || s[at] == ' ')) {
    unsigned h, mi, sec = 0;
    if (!digits(s, at + 1, 2, h) || at + 3 >= s.size() || s[at + 3] != ':' ||
        !digits(s, at + 4, 2, mi) || h > 23 || mi > 59)
      return "unparsable time of day (expected HH:MM[:SS])";
    at += 6;
    if (at < s.size() && s[at] == ':') {
      if (!digits(s, at + 1, 2, sec) || sec > 60) return "unparsable seconds in time";
      at += 3;
      if (at < s.size() && s[at] == '.') {
        double frac = 0, scale = 0.1;
        for (++at; at < s.size() && s[at] >= '0' && s[at] <= '9'; ++at, scale /= 10)
          frac += scale * (s[at] - '0');
        seconds += frac;
      }
    }
    seconds += 3600.0 * h + 60.0 * mi + sec;
  }
  if (at < s.size() && s[at] == 'Z') ++at;
  if (at != s.size()) return "unparsable time (trailing characters)";
  t = seconds;
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Columns and data lines

struct Columns {
  size_t pos[4] = {0, 1, 2, 0};  // 0-based field of user, item, value and time
  bool has_time = false;
  size_t needed = 0;  // fields a data line must have
};

// Decides whether `first` (the first line carrying data) is a header and where the columns are.
Columns resolve_columns(const std::string& name, std::string_view first, Delim delim,
                        const ReadOptions& opts, bool* header) {
  const size_t n = opts.need_value ? 3 : 2;
  const std::vector<std::string>& spec = opts.columns;
  // Pair files accept a ratings-style user,item,value spec and ignore the value.
  if (!spec.empty() && spec.size() != n && !(spec.size() == 3 && !opts.need_value)) {
    throw ConfigError("columns", std::string("expects ") +
                                     (opts.need_value ? "user,item,value" : "user,item") +
                                     ", got " + std::to_string(spec.size()) + " names");
  }
  Columns cols;
  bool is_name[3] = {false, false, false};
  for (size_t k = 0; k < n && !spec.empty(); ++k) {
    const std::string& s = spec[k];
    size_t p = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), p);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
      is_name[k] = true;
    } else if (p == 0) {
      throw ConfigError("columns", "bad column '0' (positions start at 1)");
    } else {
      cols.pos[k] = p - 1;
    }
  }

  const std::vector<std::string_view> fields = split_all(first, delim);
  float v;
  if (std::any_of(is_name, is_name + n, [](bool b) { return b; })) {
    *header = true;
  } else if (opts.need_value) {
    // nan or an out-of-range number is a bad data line, not a header.
    *header = cols.pos[2] < fields.size() && parse_value(fields[cols.pos[2]], v) == kUnparsable;
  } else {
    *header = std::any_of(fields.begin(), fields.end(), is_id_column_name);
  }

  for (size_t k = 0; k < n; ++k) {
    if (!is_name[k]) continue;
    const std::string& s = spec[k];
    const auto it = std::find_if(fields.begin(), fields.end(),
                                 [&](std::string_view f) { return iequals(f, s); });
    if (it == fields.end()) {
      std::string has;
      for (const std::string_view f : fields) has += (has.empty() ? "" : ", ") + std::string(f);
      throw Error(name + ": no column named '" + s + "' (header has: " + has + ")");
    }
    cols.pos[k] = it - fields.begin();
  }
  if (!opts.time_column.empty()) {
    const std::string& t = opts.time_column;
    size_t p = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), p);
    if (ec == std::errc() && ptr == t.data() + t.size()) {
      if (p == 0) throw Error(name + ": bad time column '0' (positions start at 1)");
      cols.pos[3] = p - 1;
    } else {
      if (!*header) throw Error(name + ": time column '" + t + "' named, but the file has no header");
      const auto it = std::find_if(fields.begin(), fields.end(),
                                   [&](std::string_view f) { return iequals(f, t); });
      if (it == fields.end()) throw Error(name + ": no column named '" + t + "'");
      cols.pos[3] = it - fields.begin();
    }
    cols.has_time = true;
  }
  cols.needed = *std::max_element(cols.pos, cols.pos + (cols.has_time ? 4 : n)) + 1;
  return cols;
}

// Splits data lines and checks them.
class LineParser {
 public:
  LineParser(Delim delim, const Columns& cols, bool need_value)
      : delim_(delim), cols_(cols), need_value_(need_value), fields_(cols.needed) {}

  // Empty, with user, item and value set (value 0 for pair files) and the time when the file has
  // a time column, or why the line is bad.
  std::string parse(std::string_view line, std::string_view& user, std::string_view& item,
                    float& value, double& time) {
    FieldCursor cur(line, delim_);
    size_t found = 0;
    while (found < cols_.needed && cur.next(fields_[found])) ++found;
    if (found < cols_.needed) {
      return "expected at least " + std::to_string(cols_.needed) + " fields, found " +
             std::to_string(found);
    }
    user = fields_[cols_.pos[0]];
    item = fields_[cols_.pos[1]];
    if (user.empty()) return "empty user id";
    if (item.empty()) return "empty item id";
    value = 0;
    if (need_value_) {
      if (const char* why = parse_value(fields_[cols_.pos[2]], value)) {
        return why + (" " + quote(fields_[cols_.pos[2]]));
      }
    }
    if (cols_.has_time) {
      if (const char* why = parse_time(fields_[cols_.pos[3]], time)) {
        return why + (" " + quote(fields_[cols_.pos[3]]));
      }
    }
    return {};
  }

  bool has_time() const { return cols_.has_time; }

 private:
  Delim delim_;
  Columns cols_;
  bool need_value_;
  std::vector<std::string_view> fields_;
};

// ---------------------------------------------------------------------------------------------
// Interning ids

// Dense numbering of the ids of one read, in first-occurrence order. Unlike IdMap it takes the
// hash from the caller, so the reader can hash a batch of lines and prefetch their slots first,
// and ids of up to 20 bytes sit in the slot itself: a file in random order over a million users
// then costs no chain of dependent cache misses per line. The IdMap is built once at the end.
class Interner {
 public:
  static uint64_t hash(std::string_view s) {
    constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
    const char* p = s.data();
    size_t n = s.size();
    uint64_t h = n * kMul, w = 0;
    for (; n >= 8; n -= 8, p += 8) std::memcpy(&w, p, 8), h = (h ^ w) * kMul, h ^= h >> 29;
    w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
    return h ^ (h >> 32);
  }

  void prefetch(uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[h & mask_]);
  }

  int32_t intern(std::string_view s, uint64_t h) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const auto tag = static_cast<uint32_t>(h);
    for (size_t k = tag & mask_;; k = (k + 1) & mask_) {
      Slot& slot = slots_[k];
      if (slot.id < 0) {
        if (size_ >= static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
          throw Error("more than 2147483647 distinct ids");
        }
        slot.tag = tag;
        slot.id = static_cast<int32_t>(size_++);
        slot.len = static_cast<uint32_t>(s.size());
        const char* p = s.data();
        if (s.size() <= kInline) {
          std::memcpy(slot.bytes, p, s.size());
        } else {
          std::memcpy(slot.bytes, &p, sizeof p);
        }
        return slot.id;
      }
      if (slot.tag == tag && slot.len == s.size() &&
          std::memcmp(stored(slot), s.data(), s.size()) == 0) {
        return slot.id;
      }
    }
  }

  IdMap to_id_map() const {
    std::vector<std::string> names;
    reserve_huge(names, size_);
    names.resize(size_);
    for (const Slot& slot : slots_) {
      if (slot.id >= 0) names[slot.id].assign(stored(slot), slot.len);
    }
    return IdMap(names);
  }

 private:
  static constexpr size_t kInline = 20;
  // Longer ids keep a pointer into the text in `bytes`, which must outlive the Interner.
  struct alignas(32) Slot {
    uint32_t tag;
    int32_t id;
    uint32_t len;
    char bytes[kInline];
  };

  static const char* stored(const Slot& slot) {
    if (slot.len <= kInline) return slot.bytes;
    const char* p;
    std::memcpy(&p, slot.bytes, sizeof p);
    return p;
  }

  void grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    const size_t n = old.empty() ? 1024 : old.size() * 2;
    reserve_huge(slots_, n);
    slots_.assign(n, Slot{0, -1, 0, {}});
    mask_ = n - 1;
    constexpr size_t kAhead = 16;  // prefetch distance, as in the reader's batches
    for (size_t j = 0; j < old.size(); ++j) {
      if (j + kAhead < old.size() && old[j + kAhead].id >= 0) prefetch(old[j + kAhead].tag);
      const Slot& slot = old[j];
      if (slot.id < 0) continue;
      size_t k = slot.tag & mask_;
      while (slots_[k].id >= 0) k = (k + 1) & mask_;
      slots_[k] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Duplicates

// Merges repeated (user, item) entries into their first occurrence per `policy` and returns how
// many were removed. Under kError nothing changes and *earliest is set to the first entry that
// repeats an earlier one (r.size() if none). Entries are taken user by user in file order: straight
// from the arrays when the file is grouped by user, else through a counting sort; within a user,
// item-indexed marks find the repeats. O(n), no comparison sort. Index holds an entry index.
template <class Index>
size_t merge_duplicates(Ratings& r, DuplicatePolicy policy, size_t* earliest) {
  const size_t n = r.size();
  // Users are numbered in first-occurrence order, so a file grouped by user has them ascending.
  const bool grouped = std::is_sorted(r.user.begin(), r.user.end());
  std::vector<Index> start, order;  // when not grouped, user u's entries are order[start[u]..)
  if (!grouped) {
    start.assign(r.users.size() + 1, 0);
    for (const int32_t u : r.user) ++start[u + 1];
    std::partial_sum(start.begin(), start.end(), start.begin());
    reserve_huge(order, n);
    order.resize(n);
    std::vector<Index> fill(start.begin(), start.end() - 1);
    for (size_t e = 0; e < n; ++e) order[fill[r.user[e]]++] = static_cast<Index>(e);
  }

  std::vector<int32_t> seen_by(r.items.size(), -1);  // last user whose entries held the item
  std::vector<Index> first(r.items.size());          // that user's first entry with the item
  std::vector<int32_t> count(policy == DuplicatePolicy::kMean ? r.items.size() : 0);
  size_t removed = 0;
  *earliest = n;
  // The entries of user u: positions [b, e) of the arrays when grouped, else of `order`.
  const auto merge_user = [&](size_t b, size_t e, int32_t u) {
    const size_t before = removed;
    for (size_t k = b; k < e; ++k) {
      const size_t x = grouped ? k : order[k];
      const int32_t i = r.item[x];
      if (seen_by[i] != u) {
        seen_by[i] = u;
        first[i] = static_cast<Index>(x);
        if (!count.empty()) count[i] = 1;
        continue;
      }
      const size_t f = first[i];
      switch (policy) {
        case DuplicatePolicy::kError:
          *earliest = std::min(*earliest, x);
          continue;
        case DuplicatePolicy::kSum:
          r.value[f] += r.value[x];
          break;
        case DuplicatePolicy::kMean:
          r.value[f] += r.value[x];
          ++count[i];
          break;
        case DuplicatePolicy::kLast:
          r.value[f] = r.value[x];
          if (!r.time.empty()) r.time[f] = r.time[x];
          break;
      }
      r.user[x] = -1;  // marks the entry for removal; user u's scan no longer reads users
      ++removed;
    }
    if (policy == DuplicatePolicy::kMean && removed > before) {
      for (size_t k = b; k < e; ++k) {
        const size_t x = grouped ? k : order[k];
        if (r.user[x] >= 0) r.value[x] /= static_cast<float>(count[r.item[x]]);
      }
    }
  };
  if (grouped) {
    for (size_t b = 0, e = 0; b < n; b = e) {
      const int32_t u = r.user[b];
      while (e < n && r.user[e] == u) ++e;
      merge_user(b, e, u);
    }
  } else {
    for (size_t u = 0; u + 1 < start.size(); ++u) merge_user(start[u], start[u + 1], u);
  }

  if (removed > 0) {
    size_t w = 0;
    for (size_t e = 0; e < n; ++e) {
      if (r.user[e] < 0) continue;
      r.user[w] = r.user[e];
      r.item[w] = r.item[e];
      r.value[w] = r.value[e];
      if (!r.time.empty()) r.time[w] = r.time[e];
      ++w;
    }
    r.user.resize(w);
    r.item.resize(w);
    r.value.resize(w);
    if (!r.time.empty()) r.time.resize(w);
  }
  return removed;
}

// The duplicate error. Its two line numbers are found by reading the text again, which is cheaper
// than recording a line number for every entry when the error is rare.
[[noreturn]] void throw_duplicate(const std::string& name, std::string_view text, bool had_header,
                                  LineParser& parser, std::string_view user,
                                  std::string_view item) {
  LineReader lines(text);
  std::string_view line, u, i;
  float v;
  double t;
  size_t first_line = 0;
  for (bool have = lines.next(line) && (!had_header || lines.next(line)); have;
       have = lines.next(line)) {
    if (!parser.parse(line, u, i, v, t).empty() || u != user || i != item) continue;
    if (first_line == 0) {
      first_line = lines.number();
      continue;
    }
    throw Error(name + ":" + std::to_string(lines.number()) + ": duplicate entry (user " +
                quote(user) + ", item " + quote(item) + ") first seen on line " +
                std::to_string(first_line) +
                "; choose a duplicates policy (sum, mean or last) to merge repeats");
  }
  throw Error(name + ": duplicate entry (user " + quote(user) + ", item " + quote(item) + ")");
}

// Lines in `text`, extrapolated from its first megabyte, to reserve the entry arrays once.
size_t estimate_lines(std::string_view text) {
  const std::string_view head = text.substr(0, size_t{1} << 20);
  const auto lines = static_cast<size_t>(std::count(head.begin(), head.end(), '\n')) + 1;
  return static_cast<size_t>(static_cast<double>(lines) * 1.02 * static_cast<double>(text.size()) /
                             static_cast<double>(std::max<size_t>(head.size(), 1)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------

DuplicatePolicy parse_duplicate_policy(const std::string& s) {
  for (const DuplicatePolicy p : {DuplicatePolicy::kError, DuplicatePolicy::kSum,
                                  DuplicatePolicy::kMean, DuplicatePolicy::kLast}) {
    if (s == to_string(p)) return p;
  }
  throw ConfigError("duplicates", "unknown policy '" + s + "' (expected error|sum|mean|last)");
}

const char* to_string(DuplicatePolicy p) {
  switch (p) {
    case DuplicatePolicy::kError:
      return "error";
    case DuplicatePolicy::kSum:
      return "sum";
    case DuplicatePolicy::kMean:
      return "mean";
    case DuplicatePolicy::kLast:
      return "last";
  }
  return "";
}

std::string read_file_bytes(const std::string& path) {
  return decompress_if_gzip(path, read_plain(path));
}

std::string decompress_if_gzip(const std::string& name, std::string bytes) {
  if (bytes.size() >= 2 && bytes[0] == '\x1f' && bytes[1] == '\x8b') return gunzip(name, bytes);
  return bytes;
}

Ratings read_ratings(const std::string& path, const ReadOptions& opts, ReadReport* report) {
  const std::string bytes = read_file_bytes(path);
  throw_if_cancelled();  // a big file takes seconds to read and as long to parse
  Ratings r = parse_ratings(path, bytes, opts, report);
  throw_if_cancelled();
  return r;
}

// lines_read counts every data line: entries = lines_read - bad_lines_skipped - duplicates_merged.
Ratings parse_ratings(const std::string& name, std::string_view text, const ReadOptions& opts,
                      ReadReport* report) {
  ReadReport rep;
  LineReader lines(text);
  std::string_view line;
  if (!lines.next(line)) throw Error(name + ": no data lines");
  const Delim delim = detect_delimiter(line);
  rep.delimiter = delim_name(delim);
  LineParser parser(delim, resolve_columns(name, line, delim, opts, &rep.had_header),
                    opts.need_value);

  Ratings r;
  const size_t expected = estimate_lines(text);
  reserve_huge(r.user, expected);
  reserve_huge(r.item, expected);
  reserve_huge(r.value, expected);
  if (!opts.time_column.empty()) reserve_huge(r.time, expected);

  // Lines are parsed and hashed a batch at a time, then their ids interned (see Interner).
  struct Pending {
    std::string_view user, item;
    uint64_t user_hash, item_hash;
    float value;
    double time;
    bool new_user;  // false: same user as the line before, which files grouped by user repeat
  };
  constexpr size_t kBatch = 32;
  Pending batch[kBatch];
  size_t pending = 0;
  Interner users, items;
  int32_t last_u = -1;
  // The batch's prefetches go out together (measured faster than one after each line's parse),
  // and by the time the batch is interned most of its slots have arrived.
  const auto flush = [&] {
    for (size_t k = 0; k < pending; ++k) {
      if (batch[k].new_user) users.prefetch(batch[k].user_hash);
      items.prefetch(batch[k].item_hash);
    }
    for (size_t k = 0; k < pending; ++k) {
      const Pending& p = batch[k];
      if (p.new_user) last_u = users.intern(p.user, p.user_hash);
      r.push(last_u, items.intern(p.item, p.item_hash), p.value);
      if (parser.has_time()) r.time.push_back(p.time);
    }
    pending = 0;
  };

  std::string_view last_user;
  for (bool have = !rep.had_header || lines.next(line); have; have = lines.next(line)) {
    ++rep.lines_read;
    Pending& p = batch[pending];
    const std::string why = parser.parse(line, p.user, p.item, p.value, p.time);
    if (!why.empty()) {
      if (!opts.skip_bad_lines) {
        throw Error(name + ":" + std::to_string(lines.number()) + ": " + why);
      }
      ++rep.bad_lines_skipped;
      continue;
    }
    p.new_user = p.user != last_user;
    if (p.new_user) {
      last_user = p.user;
      p.user_hash = Interner::hash(p.user);
    }
    p.item_hash = Interner::hash(p.item);
    if (++pending == kBatch) flush();
  }
  flush();
  if (r.size() == 0) {
    if (rep.bad_lines_skipped > 0) {
      throw Error(name + ": no valid data lines (" + std::to_string(rep.bad_lines_skipped) +
                  " bad lines skipped)");
    }
    throw Error(name + ": no data lines");
  }
  r.users = users.to_id_map();
  r.items = items.to_id_map();

  if (opts.need_value && opts.merge_duplicates) {
    size_t dup = 0;
    rep.duplicates_merged = r.size() <= std::numeric_limits<uint32_t>::max()
                                ? merge_duplicates<uint32_t>(r, opts.duplicates, &dup)
                                : merge_duplicates<size_t>(r, opts.duplicates, &dup);
    if (dup < r.size()) {
      throw_duplicate(name, text, rep.had_header, parser, r.users.name(r.user[dup]),
                      r.items.name(r.item[dup]));
    }
  }
  if (report) *report = rep;
  return r;
}

size_t merge_duplicate_entries(Ratings& r, DuplicatePolicy policy, const std::string& name) {
  size_t dup = 0;
  const size_t merged = r.size() <= std::numeric_limits<uint32_t>::max()
                            ? merge_duplicates<uint32_t>(r, policy, &dup)
                            : merge_duplicates<size_t>(r, policy, &dup);
  if (dup < r.size()) {
    size_t first = 0;
    while (r.user[first] != r.user[dup] || r.item[first] != r.item[dup]) ++first;
    throw Error(name + ": entry " + std::to_string(dup) + " repeats entry " +
                std::to_string(first) + " (user " + quote(r.users.name(r.user[dup])) + ", item " +
                quote(r.items.name(r.item[dup])) +
                "); choose a duplicates policy (sum, mean or last) to merge repeats");
  }
  return merged;
}

GroupFile read_group_file(const std::string& path) {
  return parse_group_file(path, read_file_bytes(path));
}

GroupFile parse_group_file(const std::string& path, std::string_view text) {
  LineReader lines(text);
  std::string_view line;
  if (!lines.next(line)) throw Error(path + ": no data lines");
  const Delim delim = detect_delimiter(line);
  const std::vector<std::string_view> first = split_all(line, delim);
  const bool header =
      is_id_column_name(first[0]) || (first.size() > 1 && iequals(first[1], "group"));

  GroupFile groups;
  for (bool have = !header || lines.next(line); have; have = lines.next(line)) {
    const auto fail = [&](const std::string& why) {
      throw Error(path + ":" + std::to_string(lines.number()) + ": " + why);
    };
    FieldCursor cur(line, delim);
    std::string_view id, group;
    const size_t found = cur.next(id) ? (cur.next(group) ? 2 : 1) : 0;
    if (found < 2) fail("expected at least 2 fields, found " + std::to_string(found));
    if (id.empty()) fail("empty id");
    if (group.empty()) fail("empty group");
    const auto [it, inserted] = groups.try_emplace(std::string(id), group);
    if (!inserted && it->second != group) {
      fail("id " + quote(id) + " assigned to group " + quote(group) + " but earlier to group " +
           quote(it->second));
    }
  }
  if (groups.empty()) throw Error(path + ": no data lines");
  return groups;
}

}  // namespace ppmf
