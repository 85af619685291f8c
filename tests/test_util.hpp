// Test helpers: planted data, small random models, and a double-precision reference ELBO written
// straight from docs/model.md (independent of entry_math.hpp) to check the backends against.
#pragma once

#include <string>
#include <vector>

#include "ppmf/common.hpp"
#include "ppmf/config.hpp"
#include "ppmf/model.hpp"
#include "ppmf/ratings.hpp"

namespace ppmf::testing {

// Ratings from the model r = mu + a_i + b_j + u_i . v_j + noise, every user with `per_user`
// distinct items; `truth` (optional) receives the noise-free means.
Ratings planted_ratings(int users, int items, int rank, int per_user, double noise_sd,
                        uint64_t seed, std::vector<float>* truth = nullptr);

// The inverse of a dense n x n matrix by Gauss-Jordan elimination with partial pivoting, written
// independently of the Cholesky code under test; optionally log |det|.
std::vector<double> dense_inverse(std::vector<double> a, int n, double* log_abs_det = nullptr);

// A random prior for group g of `p`: a mean and a well-conditioned covariance with correlations.
void random_prior(PriorBlock& p, int g, Rng& rng);

// A small model with a random guide and random (non-trivial) priors over `train`'s ids, with
// `user_group_count` user groups assigned round-robin.
Model random_model(const Ratings& train, int rank, int user_group_count, uint64_t seed);

// The ELBO of docs/model.md in double: sum of E[log p(r)] minus the KL of every entity with at
// least one entry to its group's full-covariance prior.
double reference_elbo(const Model& m, const Ratings& train);

// Training settings for tests: at most `epochs` epochs, nothing printed (the default validation
// split and refit).
TrainConfig epochs_config(int epochs);

// A directory for the current test's files (for the current suite's, in SetUpTestSuite), created
// on first use under GoogleTest's TempDir() and removed when the test (suite) ends, pass or fail,
// by the listener of tests/main.cpp.
std::string test_dir();
std::string temp_path(const std::string& name);  // test_dir() + "/" + name
// The directory test_dir() uses for `test` of `suite` (null: the suite's own).
std::string test_dir_name(const std::string& suite, const char* test);

// Bit patterns, so that NaN and -0 compare exactly too.
std::vector<uint32_t> bits(const std::vector<float>& v);
uint32_t bits(float x);
uint64_t bits(double x);

// Expects every field of two models to be equal bit for bit; per-epoch timings only when asked.
enum class Timings { kCompared, kIgnored };
void expect_same_model(const Model& a, const Model& b, Timings timings = Timings::kCompared);
void write_file(const std::string& path, const std::string& text);

// A shell command's exit code and its stdout and stderr together.
struct ShellRun {
  int code;
  std::string out;
};
ShellRun run_shell(const std::string& command);
std::string read_text(const std::string& path);

}  // namespace ppmf::testing
