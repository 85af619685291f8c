// See harnesses.hpp.
#include "harnesses.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cpu_backend.hpp"
#include "ppmf/checkpoint.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/predict.hpp"
#include "ppmf/reader.hpp"

namespace ppmf::fuzz {
namespace {

[[noreturn]] void broken(const char* what) {
  std::fprintf(stderr, "fuzz: invariant broken: %s\n", what);
  std::abort();
}

void check_table(const Ratings& r) {
  const size_t n = r.size();
  if (r.user.size() != n || r.item.size() != n) broken("column lengths differ");
  if (!r.time.empty() && r.time.size() != n) broken("time column length");
  for (size_t k = 0; k < n; ++k) {
    if (r.user[k] < 0 || static_cast<size_t>(r.user[k]) >= r.users.size()) broken("user index");
    if (r.item[k] < 0 || static_cast<size_t>(r.item[k]) >= r.items.size()) broken("item index");
  }
  for (size_t u = 0; u < r.users.size(); ++u)
    if (r.users.find(std::string(r.users.name(static_cast<int32_t>(u)))) !=
        static_cast<int32_t>(u))
      broken("user id does not find itself");
}

// The model file's header (magic, version, payload length, CRC-32) around `payload`.
std::string wrapped(const char (&magic)[9], uint32_t version, std::string_view payload) {
  std::string file(magic, 8);
  const auto put = [&](uint64_t v, int bytes) {
    for (int b = 0; b < bytes; ++b) file.push_back(static_cast<char>((v >> (8 * b)) & 0xff));
  };
  put(version, 4);
  put(payload.size(), 8);
  put(crc32_of(payload), 4);
  file.append(payload);
  return file;
}

std::string container(const char (&magic)[9], uint32_t newest, std::string_view bytes) {
  if (bytes.empty()) return "";
  const auto mode = static_cast<unsigned char>(bytes[0]);
  bytes.remove_prefix(1);
  if (mode & 0x80) return std::string(bytes);
  return wrapped(magic, 1 + (mode & 0x7f) % newest, bytes);
}

// Predictions for every known user with the first item, and for an unknown user and item: what
// serving does with a loaded model.
void use(const Model& m) {
  Ratings pairs;
  pairs.users = m.users;
  pairs.items = m.items;
  const int32_t stranger = pairs.users.insert("\x01stranger"), unseen = pairs.items.insert("\x01unseen");
  for (int32_t u = 0; u < static_cast<int32_t>(m.users.size()) && u < 64; ++u)
    pairs.push(u, m.items.size() > 0 ? 0 : unseen, 0);
  pairs.push(stranger, unseen, 0);
  auto backend = make_cpu_backend(1);
  backend->load_model(m);
  const Predictions p = predict_table(*backend, m, pairs, nullptr, nullptr);
  if (p.mean.size() != pairs.size()) broken("prediction count");
}

}  // namespace

bool ratings_reader(std::string_view bytes) {
  if (bytes.empty()) return false;
  const auto mode = static_cast<unsigned char>(bytes[0]);
  bytes.remove_prefix(1);
  ReadOptions o;
  o.duplicates = static_cast<DuplicatePolicy>(mode & 3);
  o.skip_bad_lines = mode & 4;
  o.need_value = !(mode & 8);
  if (mode & 16) o.columns = (mode & 32) ? std::vector<std::string>{"item", "user", "value"}
                                         : std::vector<std::string>{"2", "1", "3"};
  if (mode & 64) o.time_column = (mode & 128) ? "time" : "4";
  try {
    check_table(parse_ratings("fuzz", decompress_if_gzip("fuzz", std::string(bytes)), o));
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool group_reader(std::string_view bytes) {
  try {
    const GroupFile g = parse_group_file("fuzz", bytes);
    for (const auto& [id, group] : g)
      if (id.empty() || group.empty()) broken("empty id or group");
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool model_file(std::string_view bytes) {
  static const char magic[9] = "PPMFMODL";
  Model m;
  try {
    m = parse_model("fuzz", container(magic, kModelFormatVersion, bytes));
  } catch (const Error&) {
    return false;
  }
  use(m);  // a model that loads must serve: its loader refuses what serving could not use
  return true;
}

bool checkpoint_file(std::string_view bytes) {
  static const char magic[9] = "PPMFCKPT";
  Checkpoint c;
  try {
    c = parse_checkpoint("fuzz", container(magic, kCheckpointFormatVersion, bytes));
  } catch (const Error&) {
    return false;
  }
  use(c.model);
  if (c.has_best) use(c.best);
  return true;
}

}  // namespace ppmf::fuzz
