// Model file tests: an exact round trip of every field, atomic replacement, and the refusal (with
// its message) of truncated, corrupted, foreign, future-version, missing and inconsistent files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#if PPMF_TEST_ZLIB
#include <zlib.h>
#endif

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>

#include "ppmf/common.hpp"
#include "ppmf/model_file.hpp"
#include "ppmf/predict.hpp"
#include "test_util.hpp"

namespace ppmf {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr size_t kHeaderSize = 24;  // magic 8, version 4, payload length 8, CRC 4

void fill_guide(GuideBlock& g, int n, int rank, Rng& rng) {
  g.resize(n, rank);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < rank; ++k) {
      g.mean[static_cast<size_t>(i) * g.stride + k] = static_cast<float>(rng.normal());
      g.logsd[static_cast<size_t>(i) * g.stride + k] = static_cast<float>(rng.normal() - 2);
    }
    g.bias_mean[i] = static_cast<float>(rng.normal());
    g.bias_logsd[i] = static_cast<float>(rng.normal() - 2);
  }
}

void fill_prior(PriorBlock& p, int groups, int rank, Rng& rng) {
  p.reset(groups, rank);
  for (int g = 0; g < groups; ++g) testing::random_prior(p, g, rng);
  for (float& x : p.pop_mean) x = static_cast<float>(rng.normal());
}

// 7 users in 2 groups from a file, 5 items in the implicit group, rank 3 (stride 4), 3 epochs,
// a watch part of rank 2.
Model random_model(uint64_t seed) {
  Rng rng(seed);
  Model m;
  m.config.rank = 3;
  m.config.transform = Transform::kLog1p;
  m.config.pool = false;
  m.config.tau = 0.7f;
  m.config.prec_a0 = 3.5f;
  m.config.prec_b0 = 1.25f;
  m.config.noise_a = 2.5f;
  m.config.noise_b = 0.75f;
  m.config.init_sd = 0.05f;
  m.users = IdMap({"u0", "u1", "u2", "user three", "u4", "ü5", "u,6"});
  m.items = IdMap({"i0", "i1", "i2", "i3", "i4"});
  m.user_groups.names = {"north", "south"};
  m.user_groups.from_file = true;
  for (int i = 0; i < 7; ++i) m.user_groups.of.push_back(static_cast<int32_t>(rng.below(2)));
  m.item_groups.names = {"all"};
  m.item_groups.of.assign(5, 0);
  for (int i = 0; i < 7; ++i) m.user_count.push_back(static_cast<int32_t>(rng.below(50)));
  for (int i = 0; i < 5; ++i) m.item_count.push_back(static_cast<int32_t>(rng.below(50)));
  fill_guide(m.U, 7, 3, rng);
  fill_guide(m.V, 5, 3, rng);
  fill_prior(m.user_prior, 2, 3, rng);
  fill_prior(m.item_prior, 1, 3, rng);
  m.mu0 = static_cast<float>(rng.normal());
  m.sigma2 = static_cast<float>(rng.gamma(2.0));
  m.n_train = (size_t{1} << 40) + rng.below(1000);  // needs all 64 bits
  m.new_users.groups = 2;
  m.new_users.max_n = 4;
  for (int k = 0; k < 3 * 5 * 4; ++k) m.new_users.mean.push_back(static_cast<float>(rng.normal()));
  for (int e = 1; e <= 3; ++e) {
    EpochMetrics x;
    x.epoch = e;
    x.elbo_per_entry = -rng.uniform();
    x.train_rmse = rng.uniform();
    x.has_valid = e != 3;
    x.valid_rmse = rng.uniform();
    x.valid_nll = rng.uniform();
    x.has_test = e != 2;
    x.test_rmse = x.has_test ? rng.uniform() : std::nan("");
    x.test_nll = x.has_test ? rng.uniform() : std::nan("");
    x.sigma = rng.uniform();
    x.entries_per_s = 1e8 * rng.uniform();
    x.seconds = rng.uniform();
    m.history.push_back(x);
  }
  m.best_epoch = 3;
  m.watch.present = true;
  m.watch.config.rank = 2;
  m.watch.config.alpha = 13.5f;
  m.watch.config.zero_weight = 0.25f;
  m.watch.config.epochs = 7;
  fill_guide(m.watch.U, 7, 2, rng);
  fill_guide(m.watch.V, 5, 2, rng);
  fill_prior(m.watch.user_prior, 2, 2, rng);
  fill_prior(m.watch.item_prior, 1, 2, rng);
  std::vector<std::vector<int32_t>> seen(7);
  for (int i = 0; i < 7; ++i)
    for (int32_t j = 0; j < 5; ++j)
      if (rng.below(2)) seen[i].push_back(j);
  set_seen(m, seen);
  return m;
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

std::string load_error(const std::string& path) {
  try {
    load_model(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

// Saves the random model and returns the file's bytes.
std::string saved_bytes(const std::string& path) {
  save_model(random_model(1), path);
  return read_bytes(path);
}

template <class T>
void put_at(std::string& bytes, size_t offset, T v) {
  std::memcpy(&bytes[offset], &v, sizeof v);
}

// Makes the checksum match the (patched) payload again.
void fix_crc(std::string& bytes) {
  put_at(bytes, 20, crc32_of(std::string_view(bytes).substr(kHeaderSize)));
}

// Offset just past the length-prefixed string `s` in the file.
size_t after_string(const std::string& bytes, const std::string& s) {
  std::string prefixed(8, '\0');
  put_at(prefixed, 0, static_cast<uint64_t>(s.size()));
  const size_t at = bytes.find(prefixed + s);
  EXPECT_NE(at, std::string::npos) << s;
  return at + prefixed.size() + s.size();
}

// The built-in checksum is the standard CRC-32 (its check value), and zlib's where zlib is built.
TEST(ModelFile, ChecksumIsTheStandardCrc32) {
  EXPECT_EQ(crc32_of("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32_of(""), 0u);
#if PPMF_TEST_ZLIB
  Rng rng(3);
  std::string bytes(100003, '\0');
  for (char& c : bytes) c = static_cast<char>(rng.below(256));
  EXPECT_EQ(crc32_of(bytes),
            crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
#endif
}

TEST(ModelFile, RoundTripKeepsEveryField) {
  const std::string path = testing::test_dir() + "/model.ppmf";
  const Model m = random_model(7);
  save_model(m, path);
  const Model loaded = load_model(path);
  testing::expect_same_model(m, loaded);
  EXPECT_EQ(loaded.users.find("user three"), 3);  // the loaded map finds ids, not just lists them
}

TEST(ModelFile, SaveReplacesTheFileAtomically) {
  const std::string dir = testing::test_dir();
  const std::string path = dir + "/model.ppmf";
  save_model(random_model(1), path);
  const Model second = random_model(2);
  save_model(second, path);
  testing::expect_same_model(second, load_model(path));
  EXPECT_EQ(entries(dir), std::set<std::string>{"model.ppmf"});  // no temp file left behind
}

TEST(ModelFile, FailedSaveLeavesNothingBehind) {
  const std::string dir = testing::test_dir();
  // Renaming onto a non-empty directory fails after the temp file was written.
  fs::create_directories(dir + "/occupied/inside");
  try {
    save_model(random_model(1), dir + "/occupied");
    FAIL() << "saved over a directory";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir + "/occupied: cannot write: "));
  }
  EXPECT_EQ(entries(dir), std::set<std::string>{"occupied"});

  try {
    save_model(random_model(1), dir + "/no/such/dir/model.ppmf");
    FAIL() << "saved into a missing directory";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("model.ppmf: cannot write: No such file or directory"));
  }
}

TEST(ModelFile, TruncatedFileIsRefused) {
  const std::string path = testing::test_dir() + "/model.ppmf";
  const std::string bytes = saved_bytes(path);
  const std::string cut_path = path + ".cut";
  for (size_t cut : {size_t{0}, size_t{5}, size_t{8}, size_t{11}, size_t{12}, size_t{23}}) {
    write_bytes(cut_path, bytes.substr(0, cut));
    EXPECT_THAT(load_error(cut_path),
                HasSubstr(cut_path + ": truncated model file (expected at least 24 bytes, found " +
                          std::to_string(cut) + ")"));
  }
  for (size_t cut : {kHeaderSize, kHeaderSize + 1, bytes.size() / 2, bytes.size() - 1}) {
    write_bytes(cut_path, bytes.substr(0, cut));
    EXPECT_THAT(load_error(cut_path), HasSubstr(cut_path + ": truncated model file (expected " +
                                                std::to_string(bytes.size()) + " bytes, found " +
                                                std::to_string(cut) + ")"));
  }
}

TEST(ModelFile, FlippedPayloadByteFailsTheChecksum) {
  const std::string path = testing::test_dir() + "/model.ppmf";
  const std::string bytes = saved_bytes(path);
  for (size_t at : {kHeaderSize, bytes.size() / 2, bytes.size() - 1}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
    write_bytes(path, flipped);
    EXPECT_THAT(load_error(path), HasSubstr(path + ": corrupt model file (checksum mismatch)"));
  }
}

TEST(ModelFile, WrongMagicIsRefused) {
  const std::string path = testing::test_dir() + "/model.ppmf";
  std::string bytes = saved_bytes(path);
  bytes[3] = 'X';
  write_bytes(path, bytes);
  EXPECT_THAT(load_error(path), HasSubstr(path + ": not a ppmf model file (bad magic)"));
  write_bytes(path, "user,item,rating\nu1,i1,5\n");
  EXPECT_THAT(load_error(path), HasSubstr("not a ppmf model file (bad magic)"));
  write_bytes(path, "PPX");  // short, and not the start of the magic either
  EXPECT_THAT(load_error(path), HasSubstr("not a ppmf model file (bad magic)"));
}

TEST(ModelFile, FutureVersionIsRefused) {
  const std::string path = testing::test_dir() + "/model.ppmf";
  std::string bytes = saved_bytes(path);
  put_at(bytes, 8, kModelFormatVersion + 1);
  write_bytes(path, bytes);
  EXPECT_THAT(load_error(path),
              HasSubstr(path + ": model format version " +
                        std::to_string(kModelFormatVersion + 1) +
                        " is not supported (this build reads versions 1 to " +
                        std::to_string(kModelFormatVersion) + ")"));
  // A later version may change the header, so the version is judged even on a short file.
  write_bytes(path, bytes.substr(0, 12));
  EXPECT_THAT(load_error(path), HasSubstr("model format version " +
                                          std::to_string(kModelFormatVersion + 1) +
                                          " is not supported"));
  put_at(bytes, 8, uint32_t{0});
  write_bytes(path, bytes);
  EXPECT_THAT(load_error(path), HasSubstr("model format version 0 is not supported"));
}

// A model written by version 1 of the format (the build before full-covariance priors; the file in
// tests/data was written by that build): it loads, its diagonal priors become diagonal covariances,
// it has no size-biased prior, and it predicts what that build predicted.
TEST(ModelFile, VersionOneFilesStillLoadAndPredict) {
  const Model m = load_model(std::string(PPMF_TEST_DATA) + "/model_v1.ppmf");
  EXPECT_EQ(m.rank(), 3);
  EXPECT_EQ(m.config.transform, Transform::kLog1p);
  EXPECT_EQ(m.user_groups.names.size(), 6u);
  EXPECT_EQ(m.new_users.max_n, -1);
  for (int g = 0; g < m.user_prior.n_groups; ++g)
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b)
        if (a == b)
          EXPECT_GT(m.user_prior.cov_of(g)[a * 4 + b], 0.f);
        else
          EXPECT_EQ(m.user_prior.cov_of(g)[a * 4 + b], 0.f);
  EXPECT_FALSE(m.history.empty());
  EXPECT_FALSE(m.history.back().has_valid);
  // user,item,mean,sd of that build's `predict --scale model --user-groups user_groups.csv`.
  Ratings pairs;
  pairs.push(pairs.users.insert("u0000000"), pairs.items.insert("v000001"), 0.f);
  pairs.push(pairs.users.insert("u0000003"), pairs.items.insert("v000005"), 0.f);
  pairs.push(pairs.users.insert("newbie"), pairs.items.insert("v000002"), 0.f);
  auto backend = make_backend(parse_device("cpu"));
  backend->load_model(m);
  const Predictions p = predict_table(*backend, m, pairs, nullptr, nullptr);
  const double want_mean[] = {2.60763407, 2.81032825, 1.68631566};
  const double want_sd[] = {0.531400126, 0.526736298, 1.5187919};
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(p.mean[k], want_mean[k], 1e-5);
    EXPECT_NEAR(std::sqrt(p.var[k]), want_sd[k], 1e-5);
  }
}

TEST(ModelFile, MissingFileIsRefused) {
  const std::string path = testing::test_dir() + "/absent.ppmf";
  EXPECT_THAT(load_error(path), HasSubstr(path + ": cannot open: No such file or directory"));
}

TEST(ModelFile, BytesAfterThePayloadAreRefused) {
  const std::string path = testing::test_dir() + "/model.ppmf";
  write_bytes(path, saved_bytes(path) + "junk");
  EXPECT_THAT(load_error(path),
              HasSubstr(path + ": corrupt model file (4 bytes after the end of the payload)"));
}

// Each patch keeps the checksum right, so only the content checks can catch it.
TEST(ModelFile, InconsistentContentIsRefused) {
  const std::string path = testing::test_dir() + "/model.ppmf";
  const std::string bytes = saved_bytes(path);
  const Model m = random_model(1);
  auto expect_refused = [&](std::string patched, const std::string& why) {
    fix_crc(patched);
    write_bytes(path, patched);
    const std::string error = load_error(path);
    EXPECT_THAT(error, HasSubstr(path + ": corrupt model file ("));
    EXPECT_THAT(error, HasSubstr(why));
  };

  std::string p = bytes;
  put_at(p, kHeaderSize, int32_t{5});  // config.rank
  expect_refused(p, "user guide rank 3 differs from the model rank 5");

  p = bytes;
  put_at(p, kHeaderSize, int32_t{-1});
  expect_refused(p, "rank -1 is out of range");

  p = bytes;
  put_at(p, kHeaderSize + 4, uint8_t{7});  // config.transform
  expect_refused(p, "unknown transform code 7");

  p = bytes;
  put_at(p, kHeaderSize + 5, uint8_t{2});  // config.pool
  expect_refused(p, "pool flag is 2 (expected 0 or 1)");

  p = bytes;
  p[after_string(p, "u1") - 1] = '0';
  expect_refused(p, "user id 'u0' appears twice");

  p = bytes;
  p.replace(after_string(p, "south") - 5, 5, "north");
  expect_refused(p, "user group 'north' appears twice");

  p = bytes;  // the first user's group index follows the group names and the count of indices
  put_at(p, after_string(p, "south") + 8, int32_t{9});
  expect_refused(p, "user 0 has group index 9 (there are 2 groups)");

  p = bytes;  // the first user row of U; its fourth float is padding
  const std::string row(reinterpret_cast<const char*>(m.U.mean.data()), 3 * sizeof(float));
  const size_t row_at = p.find(row);
  ASSERT_NE(row_at, std::string::npos);
  put_at(p, row_at + 3 * sizeof(float), 1.0f);
  expect_refused(p, "user guide row 0 has non-zero padding");

  p = bytes;
  put_at(p, row_at, std::numeric_limits<float>::quiet_NaN());
  expect_refused(p, "user guide has a non-finite value");

  p = bytes;  // a covariance with a correlation far above 1 (found by the checkpoint fuzzer)
  const int dim = m.user_prior.dim();
  const float* cov = m.user_prior.cov_of(0);
  const size_t cov_at =
      p.find(std::string(reinterpret_cast<const char*>(cov), sizeof(float) * dim * dim));
  ASSERT_NE(cov_at, std::string::npos);
  const float big = 100 * (cov[0] + cov[dim + 1]);
  put_at(p, cov_at + sizeof(float), big);
  put_at(p, cov_at + dim * sizeof(float), big);
  expect_refused(p, "user prior covariance of group 0 is not positive definite");

  p = bytes;  // the guide's n, just before its rank and stride
  std::string guide_head(12, '\0');
  put_at(guide_head, 0, int32_t{7});
  put_at(guide_head, 4, int32_t{3});
  put_at(guide_head, 8, int32_t{4});
  const size_t head_at = p.find(guide_head);
  ASSERT_NE(head_at, std::string::npos);
  put_at(p, head_at, int32_t{6});
  expect_refused(p, "user guide has 6 rows for 7 users");

  p = bytes;  // a payload cut short, with its header claiming the shorter length
  p.resize(p.size() - 2);
  put_at(p, 12, static_cast<uint64_t>(p.size() - kHeaderSize));
  expect_refused(p, "payload truncated at byte");

  p = bytes;  // an unread tail inside the payload
  p += "xy";
  put_at(p, 12, static_cast<uint64_t>(p.size() - kHeaderSize));
  expect_refused(p, "2 unread bytes at the end of the payload");
}

}  // namespace
}  // namespace ppmf
