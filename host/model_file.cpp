// The model file: 8-byte magic "PPMFMODL", uint32 format version, uint64 payload length, uint32
// CRC-32 of the payload (zlib's polynomial and value), then the payload. Every value is serialized field by field at a
// fixed width (int -> int32, size_t -> uint64, bool and enums -> uint8, float/double as their IEEE
// bits, arrays and strings prefixed by a uint64 count), little-endian, so the file depends on
// neither struct layout nor compiler. Loading checks the header, the checksum, then every size and
// index against the rest of the model before handing it out.
#include "ppmf/model_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_set>

#include "ppmf/checkpoint.hpp"
#include "ppmf/common.hpp"
#include "ppmf/files.hpp"
#include "spd.hpp"

// Values are copied to and from the file with memcpy, which is only little-endian IEEE here.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the model file format is little-endian");
static_assert(std::numeric_limits<float>::is_iec559 && std::numeric_limits<double>::is_iec559,
              "the model file stores IEEE 754 floats");

namespace ppmf {
namespace {

constexpr char kMagic[8] = {'P', 'P', 'M', 'F', 'M', 'O', 'D', 'L'};
constexpr size_t kHeaderSize = sizeof kMagic + 4 + 8 + 4;
// One serialized EpochMetrics, in format version 1 and in the current one.
constexpr size_t kEpochBytesV1 = 4 + 7 * 8 + 1;
constexpr size_t kEpochBytes = 4 + 9 * 8 + 2;

// Raised while decoding the payload; load_model words it as "corrupt model file (...)".
class Corrupt : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};


class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void u8(uint8_t v) { raw(v); }
  void u32(uint32_t v) { raw(v); }
  void i32(int32_t v) { raw(v); }
  void u64(uint64_t v) { raw(v); }
  void f32(float v) { raw(v); }
  void f64(double v) { raw(v); }
  void str(std::string_view s) {
    u64(s.size());
    out_.append(s.data(), s.size());
  }
  template <class T>
  void array(const std::vector<T>& v) {
    u64(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }

 private:
  template <class T>
  void raw(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  uint8_t u8() { return raw<uint8_t>(); }
  int32_t i32() { return raw<int32_t>(); }
  uint64_t u64() { return raw<uint64_t>(); }
  float f32() { return raw<float>(); }
  double f64() { return raw<double>(); }
  bool flag(const char* what) {
    const uint8_t v = u8();
    if (v > 1) throw Corrupt(std::string(what) + " is " + std::to_string(v) + " (expected 0 or 1)");
    return v == 1;
  }
  // Element count of an array whose elements take at least `min_bytes` each. Bounding it by the
  // bytes left keeps a corrupt count from asking for unbounded memory.
  size_t count(size_t min_bytes) {
    const uint64_t n = u64();
    if (n > left() / min_bytes) truncated();
    return static_cast<size_t>(n);
  }
  std::string_view str() { return take(count(1)); }
  template <class T>
  std::vector<T> array() {
    std::vector<T> v(count(sizeof(T)));
    const std::string_view bytes = take(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());  // empty: data() may be null
    return v;
  }
  size_t left() const { return data_.size() - pos_; }

 private:
  template <class T>
  T raw() {
    T v;
    std::memcpy(&v, take(sizeof v).data(), sizeof v);
    return v;
  }
  std::string_view take(size_t n) {
    if (n > left()) truncated();
    const std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  [[noreturn]] void truncated() const {
    throw Corrupt("payload truncated at byte " + std::to_string(pos_));
  }
  std::string_view data_;
  size_t pos_ = 0;
};

// ---- writing ----

void put_ids(Writer& w, const IdMap& ids) {
  w.u64(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) w.str(ids.name(static_cast<int32_t>(i)));
}

void put_groups(Writer& w, const Groups& g) {
  w.u64(g.names.size());
  for (const std::string& name : g.names) w.str(name);
  w.array(g.of);
  w.u8(g.from_file);
}

void put_guide(Writer& w, const GuideBlock& g) {
  w.i32(g.n);
  w.i32(g.rank);
  w.i32(g.stride);
  w.array(g.mean);
  w.array(g.logsd);
  w.array(g.bias_mean);
  w.array(g.bias_logsd);
}

void put_prior(Writer& w, const PriorBlock& p) {
  w.i32(p.n_groups);
  w.i32(p.rank);
  w.array(p.mean);
  w.array(p.cov);
  w.array(p.pop_mean);
}

void put_new_users(Writer& w, const NewUserPrior& p) {
  w.i32(p.groups);
  w.i32(p.max_n);
  w.array(p.mean);
}

void put_model_config(Writer& w, const ModelConfig& c);
ModelConfig read_model_config(Reader& r);

void put_watch_config(Writer& w, const WatchConfig& c) {
  w.u8(c.enabled);
  w.i32(c.rank);
  w.f32(c.alpha);
  w.f32(c.zero_weight);
  w.i32(c.epochs);
}

WatchConfig read_watch_config(Reader& r) {
  WatchConfig c;
  c.enabled = r.flag("watch flag");
  c.rank = r.i32();
  c.alpha = r.f32();
  c.zero_weight = r.f32();
  c.epochs = r.i32();
  return c;
}

void put_model(Writer& w, const Model& m) {
  put_model_config(w, m.config);
  put_ids(w, m.users);
  put_ids(w, m.items);
  put_groups(w, m.user_groups);
  put_groups(w, m.item_groups);
  w.array(m.user_count);
  w.array(m.item_count);
  put_guide(w, m.U);
  put_guide(w, m.V);
  put_prior(w, m.user_prior);
  put_prior(w, m.item_prior);
  put_new_users(w, m.new_users);
  w.f32(m.mu0);
  w.f32(m.sigma2);
  w.u64(m.n_train);
  w.array(m.seen_offsets);
  w.array(m.seen_items);
  w.u64(m.history.size());
  for (const EpochMetrics& e : m.history) {
    w.i32(e.epoch);
    w.f64(e.elbo_per_entry);
    w.f64(e.train_rmse);
    w.f64(e.sigma);
    w.u8(e.has_valid);
    w.f64(e.valid_rmse);
    w.f64(e.valid_nll);
    w.u8(e.has_test);
    w.f64(e.test_rmse);
    w.f64(e.test_nll);
    w.f64(e.entries_per_s);
    w.f64(e.seconds);
  }
  w.i32(m.best_epoch);
  w.u8(m.watch.present);
  if (m.watch.present) {
    put_watch_config(w, m.watch.config);
    put_guide(w, m.watch.U);
    put_guide(w, m.watch.V);
    put_prior(w, m.watch.user_prior);
    put_prior(w, m.watch.item_prior);
  }
}

// ---- reading ----

std::string read_whole_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::string data;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<size_t>(st.st_size));
  constexpr size_t kChunk = size_t{1} << 20;
  for (;;) {
    const size_t have = data.size();
    data.resize(have + kChunk);
    const ssize_t n = read(fd, &data[have], kChunk);
    if (n < 0 && errno == EINTR) {
      data.resize(have);
      continue;
    }
    if (n < 0) {
      const int err = errno;
      close(fd);
      throw Error(path + ": cannot read: " + std::strerror(err));
    }
    data.resize(have + static_cast<size_t>(n));
    if (n == 0) break;
  }
  close(fd);
  return data;
}

template <class T>
T le_at(std::string_view bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof v);
  return v;
}

void read_ids(Reader& r, IdMap& ids, const char* side) {
  const size_t n = r.count(8);
  if (n > static_cast<size_t>(INT32_MAX))
    throw Corrupt(std::to_string(n) + " " + side + "s exceed the id limit");
  for (size_t i = 0; i < n; ++i) {
    const std::string_view name = r.str();
    if (ids.insert(name) != static_cast<int32_t>(i))
      throw Corrupt(std::string(side) + " id '" + std::string(name) + "' appears twice");
  }
}

void read_groups(Reader& r, Groups& g) {
  g.names.resize(r.count(8));
  for (std::string& name : g.names) name = r.str();
  g.of = r.array<int32_t>();
  g.from_file = r.flag("group-file flag");
}

void read_guide(Reader& r, GuideBlock& g) {
  g.n = r.i32();
  g.rank = r.i32();
  g.stride = r.i32();
  g.mean = r.array<float>();
  g.logsd = r.array<float>();
  g.bias_mean = r.array<float>();
  g.bias_logsd = r.array<float>();
}

void check_size(const std::string& what, size_t have, uint64_t want) {
  if (have != want)
    throw Corrupt(what + " has " + std::to_string(have) + " values (expected " +
                  std::to_string(want) + ")");
}

void read_prior(Reader& r, PriorBlock& p) {
  p.n_groups = r.i32();
  p.rank = r.i32();
  p.mean = r.array<float>();
  p.cov = r.array<float>();
  p.pop_mean = r.array<float>();
}

// Format version 1 stored independent per-dimension precisions and the biases apart: the same
// prior as a diagonal covariance over [u; alpha].
void read_prior_v1(Reader& r, PriorBlock& p) {
  p.n_groups = r.i32();
  p.rank = r.i32();
  const std::vector<float> mean = r.array<float>(), prec = r.array<float>();
  const std::vector<float> bias_mean = r.array<float>(), bias_prec = r.array<float>();
  const std::vector<float> pop_mean = r.array<float>();
  const float pop_bias_mean = r.f32();
  if (p.n_groups < 0 || p.rank < 0 || p.rank > INT_MAX - 3) throw Corrupt("prior shape is out of range");
  const size_t G = static_cast<size_t>(p.n_groups), d = static_cast<size_t>(p.rank), m = d + 1;
  check_size("prior mean", mean.size(), G * d);
  check_size("prior precision", prec.size(), G * d);
  check_size("prior bias mean", bias_mean.size(), G);
  check_size("prior bias precision", bias_prec.size(), G);
  check_size("prior population mean", pop_mean.size(), d);
  p.mean.assign(G * m, 0.f);
  p.cov.assign(G * m * m, 0.f);
  for (size_t g = 0; g < G; ++g) {
    for (size_t k = 0; k <= d; ++k) {
      const float mk = k < d ? mean[g * d + k] : bias_mean[g];
      const float lk = k < d ? prec[g * d + k] : bias_prec[g];
      if (!(lk > 0)) throw Corrupt("a prior precision is not positive");
      p.mean[g * m + k] = mk;
      p.cov[(g * m + k) * m + k] = 1.0f / lk;
    }
  }
  p.pop_mean = pop_mean;
  p.pop_mean.push_back(pop_bias_mean);
}

void read_new_users(Reader& r, NewUserPrior& p) {
  p.groups = r.i32();
  p.max_n = r.i32();
  p.mean = r.array<float>();
}


bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// Everything the rest of the program indexes without checking: one side's groups, counts, guide
// and prior against its entity count and the model rank.
void check_side(const std::string& side, size_t entities, int rank, const Groups& g,
                const std::vector<int32_t>& count, const GuideBlock& guide,
                const PriorBlock& prior) {
  if (!g.from_file && g.names.size() != 1)
    throw Corrupt(side + " groups number " + std::to_string(g.names.size()) +
                  " without a group file (expected 1)");
  std::unordered_set<std::string_view> seen;
  for (const std::string& name : g.names)
    if (!seen.insert(name).second) throw Corrupt(side + " group '" + name + "' appears twice");
  check_size(side + " group assignment", g.of.size(), entities);
  for (size_t i = 0; i < g.of.size(); ++i)
    if (g.of[i] < 0 || static_cast<size_t>(g.of[i]) >= g.names.size())
      throw Corrupt(side + " " + std::to_string(i) + " has group index " + std::to_string(g.of[i]) +
                    " (there are " + std::to_string(g.names.size()) + " groups)");

  check_size(side + " training counts", count.size(), entities);
  for (size_t i = 0; i < count.size(); ++i)
    if (count[i] < 0) throw Corrupt(side + " " + std::to_string(i) + " has a negative count");

  const std::string gname = side + " guide";
  if (guide.n < 0 || static_cast<size_t>(guide.n) != entities)
    throw Corrupt(gname + " has " + std::to_string(guide.n) + " rows for " +
                  std::to_string(entities) + " " + side + "s");
  if (guide.rank != rank)
    throw Corrupt(gname + " rank " + std::to_string(guide.rank) + " differs from the model rank " +
                  std::to_string(rank));
  if (guide.stride != padded_stride(rank))
    throw Corrupt(gname + " stride " + std::to_string(guide.stride) + " does not match rank " +
                  std::to_string(rank) + " (expected " + std::to_string(padded_stride(rank)) + ")");
  const uint64_t cells = static_cast<uint64_t>(guide.n) * static_cast<uint64_t>(guide.stride);
  check_size(gname + " mean", guide.mean.size(), cells);
  check_size(gname + " logsd", guide.logsd.size(), cells);
  check_size(gname + " bias mean", guide.bias_mean.size(), entities);
  check_size(gname + " bias logsd", guide.bias_logsd.size(), entities);
  // Kernels read whole padded rows (16-byte loads), so padding must be the documented zeros.
  for (const std::vector<float>* v : {&guide.mean, &guide.logsd})
    for (size_t i = 0; i < entities; ++i)
      for (int k = rank; k < guide.stride; ++k)
        if ((*v)[i * guide.stride + k] != 0.0f)
          throw Corrupt(gname + " row " + std::to_string(i) + " has non-zero padding");

  const std::string pname = side + " prior";
  if (prior.n_groups < 0 || static_cast<size_t>(prior.n_groups) != g.names.size())
    throw Corrupt(pname + " has " + std::to_string(prior.n_groups) + " groups, but there are " +
                  std::to_string(g.names.size()) + " " + side + " groups");
  if (prior.rank != rank)
    throw Corrupt(pname + " rank " + std::to_string(prior.rank) + " differs from the model rank " +
                  std::to_string(rank));
  const uint64_t dim = static_cast<uint64_t>(rank) + 1;
  check_size(pname + " mean", prior.mean.size(), prior.n_groups * dim);
  check_size(pname + " covariance", prior.cov.size(), prior.n_groups * dim * dim);
  check_size(pname + " population mean", prior.pop_mean.size(), dim);
  // Serving factors every covariance (side_priors): refuse here what it could not use.
  std::vector<double> factor(dim * dim);
  for (int gr = 0; gr < prior.n_groups; ++gr) {
    const float* c = prior.cov_of(gr);
    const std::string which = pname + " covariance of group " + std::to_string(gr);
    for (uint64_t a = 0; a < dim; ++a)
      for (uint64_t b = 0; b <= a; ++b) {
        if (!std::isfinite(c[a * dim + b]) || c[a * dim + b] != c[b * dim + a])
          throw Corrupt(which + " is not symmetric and finite");
        factor[a * dim + b] = factor[b * dim + a] = c[a * dim + b];
      }
    if (!spd::cholesky(factor.data(), static_cast<int>(dim)))
      throw Corrupt(which + " is not positive definite");
  }
  if (!all_finite(prior.mean) || !all_finite(prior.pop_mean))
    throw Corrupt(pname + " has a non-finite mean");
  if (!all_finite(guide.mean) || !all_finite(guide.logsd) || !all_finite(guide.bias_mean) ||
      !all_finite(guide.bias_logsd))
    throw Corrupt(gname + " has a non-finite value");
}

Model decode(std::string_view payload, uint32_t version) {
  Reader r(payload);
  Model m;
  m.config = read_model_config(r);
  const ModelConfig& c = m.config;
  read_ids(r, m.users, "user");
  read_ids(r, m.items, "item");
  read_groups(r, m.user_groups);
  read_groups(r, m.item_groups);
  m.user_count = r.array<int32_t>();
  m.item_count = r.array<int32_t>();
  read_guide(r, m.U);
  read_guide(r, m.V);
  if (version == 1) {
    read_prior_v1(r, m.user_prior);
    read_prior_v1(r, m.item_prior);
  } else {
    read_prior(r, m.user_prior);
    read_prior(r, m.item_prior);
    read_new_users(r, m.new_users);
  }
  m.mu0 = r.f32();
  m.sigma2 = r.f32();
  m.n_train = r.u64();
  m.seen_offsets = r.array<uint64_t>();
  m.seen_items = r.array<int32_t>();
  m.history.resize(r.count(version == 1 ? kEpochBytesV1 : kEpochBytes));
  for (EpochMetrics& e : m.history) {
    e.epoch = r.i32();
    e.elbo_per_entry = r.f64();
    e.train_rmse = r.f64();
    if (version == 1) {  // its held-out figures came from --test
      e.test_rmse = r.f64();
      e.test_nll = r.f64();
      e.sigma = r.f64();
      e.entries_per_s = r.f64();
      e.seconds = r.f64();
      e.has_test = r.flag("has-test flag");
      continue;
    }
    e.sigma = r.f64();
    e.has_valid = r.flag("has-valid flag");
    e.valid_rmse = r.f64();
    e.valid_nll = r.f64();
    e.has_test = r.flag("has-test flag");
    e.test_rmse = r.f64();
    e.test_nll = r.f64();
    e.entries_per_s = r.f64();
    e.seconds = r.f64();
  }
  m.best_epoch = r.i32();
  if (version >= 3) {
    m.watch.present = r.flag("watch-part flag");
    if (m.watch.present) {
      m.watch.config = read_watch_config(r);
      read_guide(r, m.watch.U);
      read_guide(r, m.watch.V);
      read_prior(r, m.watch.user_prior);
      read_prior(r, m.watch.item_prior);
    }
  }
  if (r.left() != 0)
    throw Corrupt(std::to_string(r.left()) + " unread bytes at the end of the payload");

  check_side("user", m.users.size(), c.rank, m.user_groups, m.user_count, m.U, m.user_prior);
  check_side("item", m.items.size(), c.rank, m.item_groups, m.item_count, m.V, m.item_prior);
  if (m.watch.present) {
    const WatchConfig& wc = m.watch.config;
    if (wc.rank < 0 || wc.rank > kMaxRank || !(wc.alpha > 0) || !std::isfinite(wc.alpha) ||
        !(wc.zero_weight > 0) || !std::isfinite(wc.zero_weight))
      throw Corrupt("the watch part's settings are out of range");
    check_side("watch user", m.users.size(), wc.rank, m.user_groups, m.user_count, m.watch.U,
               m.watch.user_prior);
    check_side("watch item", m.items.size(), wc.rank, m.item_groups, m.item_count, m.watch.V,
               m.watch.item_prior);
  }
  if (m.seen_offsets.size() != m.users.size() + 1 || m.seen_offsets.front() != 0 ||
      m.seen_offsets.back() != m.seen_items.size() ||
      !std::is_sorted(m.seen_offsets.begin(), m.seen_offsets.end()))
    throw Corrupt("seen lists do not match the users");
  for (int32_t j : m.seen_items)
    if (j < 0 || static_cast<size_t>(j) >= m.items.size())
      throw Corrupt("seen list names item " + std::to_string(j));
  if (!std::isfinite(m.mu0) || !(m.sigma2 > 0) || !std::isfinite(m.sigma2))
    throw Corrupt("the global mean or the noise variance is not a finite positive number");
  const NewUserPrior& nu = m.new_users;
  if (nu.max_n < -1 || nu.max_n > 1000000 || nu.groups < 0 || nu.groups > m.user_prior.n_groups)
    throw Corrupt("the new-user prior's shape is out of range");
  check_size("new-user prior means", nu.mean.size(),
             nu.max_n < 0 ? 0
                          : static_cast<uint64_t>(nu.groups + 1) * (nu.max_n + 1) * (c.rank + 1));
  if (!all_finite(nu.mean)) throw Corrupt("the new-user prior has a non-finite mean");
  return m;
}

}  // namespace

uint32_t crc32_of(std::string_view data) {
  // The reflected CRC-32 of zlib, gzip and PNG (polynomial 0xEDB88320), a byte at a time from a
  // table; built in so that files move between builds with and without zlib.
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : data) crc = table[(crc ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

namespace {

// The container shared by model files and checkpoints: magic, version, payload length, CRC-32.
struct Container {
  const char* magic;   // 8 bytes
  const char* kind;    // for messages: "model file", "checkpoint"
  const char* format;  // "model", "checkpoint": "<format> format version 3 is not supported"
  uint32_t version;    // the one written; files of versions 1..version are read
};
constexpr Container kModelFile{kMagic, "model file", "model", kModelFormatVersion};
constexpr char kCheckpointMagic[8] = {'P', 'P', 'M', 'F', 'C', 'K', 'P', 'T'};
constexpr Container kCheckpointFile{kCheckpointMagic, "checkpoint", "checkpoint",
                                    kCheckpointFormatVersion};

// Serializes `put(writer)` after a header-sized gap, then fills the header in (the payload is not
// copied); save_container writes the bytes atomically.
template <class Put>
std::string container_bytes(const Container& c, Put&& put) {
  std::string file(kHeaderSize, '\0');
  Writer payload(file);
  put(payload);
  const std::string_view body = std::string_view(file).substr(kHeaderSize);
  std::string header(c.magic, sizeof kMagic);
  Writer h(header);
  h.u32(c.version);
  h.u64(body.size());
  h.u32(crc32_of(body));
  file.replace(0, kHeaderSize, header);
  return file;
}

template <class Put>
void save_container(const Container& c, const std::string& path, OnCancel on_cancel, Put&& put) {
  write_atomically(path, container_bytes(c, put), on_cancel);
}

// The payload of a file, its header checked; `version` receives the file's version.
std::string_view read_container(const Container& c, const std::string& path,
                                const std::string& file, uint32_t& version) {
  const std::string_view bytes(file);
  const size_t magic_len = std::min(bytes.size(), sizeof kMagic);
  if (bytes.substr(0, magic_len) != std::string_view(c.magic, magic_len))
    throw Error(path + ": not a ppmf " + c.kind + " (bad magic)");
  // The version comes before any other header check: another version may lay the header out anew.
  version = c.version;
  if (bytes.size() >= sizeof kMagic + 4) {
    version = le_at<uint32_t>(bytes, sizeof kMagic);
    if (version < 1 || version > c.version)
      throw Error(path + ": " + c.format + " format version " + std::to_string(version) +
                  " is not supported (this build reads versions 1 to " +
                  std::to_string(c.version) + ")");
  }
  if (bytes.size() < kHeaderSize)
    throw Error(path + ": truncated " + c.kind + " (expected at least " +
                std::to_string(kHeaderSize) + " bytes, found " + std::to_string(bytes.size()) +
                ")");
  const uint64_t length = le_at<uint64_t>(bytes, sizeof kMagic + 4);
  const uint32_t crc = le_at<uint32_t>(bytes, sizeof kMagic + 12);
  const std::string_view payload = bytes.substr(kHeaderSize);
  if (payload.size() < length)
    throw Error(path + ": truncated " + c.kind + " (expected " +
                std::to_string(kHeaderSize + length) + " bytes, found " +
                std::to_string(bytes.size()) + ")");
  if (payload.size() > length)
    throw Error(path + ": corrupt " + c.kind + " (" + std::to_string(payload.size() - length) +
                " bytes after the end of the payload)");
  if (crc32_of(payload) != crc) throw Error(path + ": corrupt " + c.kind + " (checksum mismatch)");
  return payload;
}

void put_model_config(Writer& w, const ModelConfig& c) {
  w.i32(c.rank);
  w.u8(static_cast<uint8_t>(c.transform));
  w.u8(c.pool);
  w.f32(c.tau);
  w.f32(c.prec_a0);
  w.f32(c.prec_b0);
  w.f32(c.noise_a);
  w.f32(c.noise_b);
  w.f32(c.init_sd);
}

ModelConfig read_model_config(Reader& r) {
  ModelConfig c;
  c.rank = r.i32();
  if (c.rank < 0 || c.rank > kMaxRank)
    throw Corrupt("rank " + std::to_string(c.rank) + " is out of range");
  const uint8_t transform = r.u8();
  if (transform > static_cast<uint8_t>(Transform::kLog1p))
    throw Corrupt("unknown transform code " + std::to_string(transform));
  c.transform = static_cast<Transform>(transform);
  c.pool = r.flag("pool flag");
  c.tau = r.f32();
  c.prec_a0 = r.f32();
  c.prec_b0 = r.f32();
  c.noise_a = r.f32();
  c.noise_b = r.f32();
  c.init_sd = r.f32();
  return c;
}

// A model nested in a checkpoint: its payload as a length-prefixed string.
void put_nested_model(Writer& w, const Model& m) {
  std::string payload;
  Writer inner(payload);
  put_model(inner, m);
  w.str(payload);
}

}  // namespace

void save_model(const Model& m, const std::string& path) {
  save_container(kModelFile, path, OnCancel::kDiscard, [&](Writer& w) { put_model(w, m); });
}

std::string model_file_bytes(const Model& m) {
  return container_bytes(kModelFile, [&](Writer& w) { put_model(w, m); });
}

Model load_model(const std::string& path) {
  return parse_model(path, read_whole_file(path));
}

Model parse_model(const std::string& path, const std::string& file) {
  uint32_t version = 0;
  const std::string_view payload = read_container(kModelFile, path, file, version);
  try {
    return decode(payload, version);
  } catch (const Corrupt& e) {
    throw Error(path + ": corrupt model file (" + e.what() + ")");
  }
}

// Everything train relies on when it continues a checkpoint, short of the data (the fingerprint
// and train's shape checks cover that).
void check_position(const Checkpoint& c) {
  const RunPosition& p = c.position;
  try {
    validate(p.model_config);
    validate(p.train_config);
  } catch (const ConfigError& e) {
    throw Corrupt(std::string("its settings are invalid: ") + e.what());
  }
  const size_t phase0_epochs = p.valid_nll.size();
  const bool validated = p.train_config.valid_frac > 0;
  const size_t epochs = c.model.history.size();
  const bool position_ok =
      (p.phase == 0 || p.phase == 1) && p.phase_epochs >= 0 &&
      p.best_epoch >= 0 && static_cast<size_t>(p.best_epoch) <= phase0_epochs &&
      (p.phase == 0
           ? p.phase_epochs <= p.train_config.epochs && p.refit_epochs == 0 &&
                 phase0_epochs == (validated ? static_cast<size_t>(p.phase_epochs) : 0) &&
                 epochs == static_cast<size_t>(p.phase_epochs)
           : validated && p.train_config.refit && p.refit_epochs == p.best_epoch &&
                 p.refit_epochs >= 1 && p.phase_epochs <= p.refit_epochs &&
                 epochs == phase0_epochs + static_cast<size_t>(p.phase_epochs));
  if (!position_ok) throw Corrupt("the run's position is inconsistent");
  const auto same_shape = [&](const Model& m) {
    return m.rank() == p.model_config.rank && m.config.transform == p.model_config.transform &&
           m.config.pool == p.model_config.pool;
  };
  if (!same_shape(c.model) || (c.has_best && !same_shape(c.best)))
    throw Corrupt("its model does not have the run's settings");
  if (c.has_best && (p.phase != 0 || p.best_epoch < 1 ||
                     c.best.history.size() != static_cast<size_t>(p.best_epoch) ||
                     c.best.users.size() != c.model.users.size() ||
                     c.best.items.size() != c.model.items.size()))
    throw Corrupt("its best model does not match the run's position");
}

void save_checkpoint(const std::string& path, const RunPosition& p, const Model& model,
                     const Model* best) {
  // Written even when interrupted: it is what the interruption keeps.
  save_container(kCheckpointFile, path, OnCancel::kCommit, [&](Writer& w) {
    w.u64(p.fingerprint);
    put_model_config(w, p.model_config);
    const TrainConfig& t = p.train_config;
    w.i32(t.epochs);
    w.i32(t.patience);
    w.f64(t.min_improvement);
    w.f64(t.valid_frac);
    w.u8(t.refit);
    w.i32(t.pool_iters);
    w.u64(t.seed);
    put_watch_config(w, t.watch);
    w.i32(p.phase);
    w.i32(p.phase_epochs);
    w.i32(p.refit_epochs);
    w.array(p.valid_nll);
    w.i32(p.best_epoch);
    w.u8(p.stopped_early);
    put_nested_model(w, model);
    w.u8(best != nullptr);
    if (best) put_nested_model(w, *best);
  });
}

Checkpoint load_checkpoint(const std::string& path) {
  return parse_checkpoint(path, read_whole_file(path));
}

Checkpoint parse_checkpoint(const std::string& path, const std::string& file) {
  uint32_t version = 0;
  const std::string_view payload = read_container(kCheckpointFile, path, file, version);
  if (version < kCheckpointFormatVersion)
    throw Error(path + ": checkpoint format version " + std::to_string(version) +
                " was written by an older build (before the watch model); start the run again");
  try {
    Reader r(payload);
    Checkpoint c;
    RunPosition& p = c.position;
    p.fingerprint = r.u64();
    p.model_config = read_model_config(r);
    TrainConfig& t = p.train_config;
    t.epochs = r.i32();
    t.patience = r.i32();
    t.min_improvement = r.f64();
    t.valid_frac = r.f64();
    t.refit = r.flag("refit flag");
    t.pool_iters = r.i32();
    t.seed = r.u64();
    t.watch = read_watch_config(r);
    p.phase = r.i32();
    p.phase_epochs = r.i32();
    p.refit_epochs = r.i32();
    p.valid_nll = r.array<double>();
    p.best_epoch = r.i32();
    p.stopped_early = r.flag("early-stop flag");
    c.model = decode(r.str(), kModelFormatVersion);
    c.has_best = r.flag("best-model flag");
    if (c.has_best) c.best = decode(r.str(), kModelFormatVersion);
    if (r.left() != 0)
      throw Corrupt(std::to_string(r.left()) + " unread bytes at the end of the payload");
    check_position(c);
    return c;
  } catch (const Corrupt& e) {
    throw Error(path + ": corrupt checkpoint (" + e.what() + ")");
  }
}

}  // namespace ppmf
