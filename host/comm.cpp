// The collectives of comm.hpp on top of a transport's three primitives.
#include "ppmf/comm.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <limits>

#include "build_id.hpp"
#include "plugins.hpp"
#include "ppmf/comm_mpi.hpp"

namespace ppmf {

class Comm::Timer {
 public:
  explicit Timer(CommStats& s) : s_(s), t0_(std::chrono::steady_clock::now()) { ++s_.calls; }
  ~Timer() {
    s_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  CommStats& s_;
  std::chrono::steady_clock::time_point t0_;
};

namespace {

constexpr int64_t kNoFailure = std::numeric_limits<int64_t>::max();

void check_cut(const std::vector<size_t>& cut, int size) {
  if (cut.size() != static_cast<size_t>(size) + 1 || cut.front() != 0)
    throw Error("internal: a slice cut needs P + 1 offsets from 0");
  for (size_t r = 0; r + 1 < cut.size(); ++r)
    if (cut[r] > cut[r + 1]) throw Error("internal: slice offsets must not decrease");
}

}  // namespace

void Comm::agree(const std::string* failure) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t failed = min_raw(failure ? rank_ : kNoFailure);
  stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (failed == kNoFailure) return;
  const std::string reason =
      broadcast_raw(failure && failed == rank_ ? *failure : std::string(), static_cast<int>(failed));
  throw RemoteFailure(static_cast<int>(failed), reason);
}

void Comm::fail(const std::string& reason) {
  agree(&reason);
  throw RemoteFailure(rank_, reason);  // not reached: agree() throws
}

std::vector<size_t> Comm::even_cut(size_t n) const {
  std::vector<size_t> cut(static_cast<size_t>(size_) + 1, 0);
  const size_t base = n / size_, extra = n % size_;
  for (size_t r = 0; r < static_cast<size_t>(size_); ++r)
    cut[r + 1] = cut[r] + base + (r < extra ? 1 : 0);
  return cut;
}

void Comm::sum_slices(double* data, const std::vector<size_t>& cut) {
  Timer t(stats_);
  agree(nullptr);
  check_cut(cut, size_);
  if (size_ == 1) return;
  const size_t begin = cut[rank_], n = cut[rank_ + 1] - begin;
  // Every other rank's copy of this rank's slice, side by side.
  if (received_.size() < n * (size_ - 1)) received_.resize(n * (size_ - 1));
  std::vector<ConstSpan> to(size_);
  std::vector<Span> into(size_);
  std::vector<const double*> term(size_);
  for (int r = 0, k = 0; r < size_; ++r) {
    if (r == rank_) {
      term[r] = data + begin;
      continue;
    }
    to[r] = {data + cut[r], (cut[r + 1] - cut[r]) * sizeof(double)};
    stats_.bytes += to[r].size;
    term[r] = received_.data() + static_cast<size_t>(k++) * n;
    into[r] = {const_cast<double*>(term[r]), n * sizeof(double)};
  }
  exchange_raw(to, into);
  // Element by element, the terms in rank order (this rank's own among them, read before its
  // element is overwritten).
  for (size_t k = 0; k < n; ++k) {
    double acc = term[0][k];
    for (int r = 1; r < size_; ++r) acc += term[r][k];
    data[begin + k] = acc;
  }
}

void Comm::share_slices(void* data, size_t elem, const std::vector<size_t>& cut) {
  Timer t(stats_);
  agree(nullptr);
  check_cut(cut, size_);
  if (size_ == 1) return;
  char* base = static_cast<char*>(data);
  const ConstSpan mine{base + cut[rank_] * elem, (cut[rank_ + 1] - cut[rank_]) * elem};
  std::vector<ConstSpan> to(size_);
  std::vector<Span> into(size_);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    to[r] = mine;
    stats_.bytes += mine.size;
    into[r] = {base + cut[r] * elem, (cut[r + 1] - cut[r]) * elem};  // straight into place
  }
  exchange_raw(to, into);
}

void Comm::sum(double* data, size_t n) {
  if (size_ == 1) {  // still an agreement point, as on every other P
    Timer t(stats_);
    agree(nullptr);
    return;
  }
  const std::vector<size_t> cut = even_cut(n);
  sum_slices(data, cut);
  share_slices(data, sizeof(double), cut);
}

std::vector<std::string> Comm::exchange_strings(const std::vector<ConstSpan>& to) {
  std::vector<uint64_t> out_size(size_), in_size(size_);
  std::vector<ConstSpan> size_to(size_);
  std::vector<Span> size_into(size_);
  for (int r = 0; r < size_; ++r) {
    if (r == rank_) continue;
    out_size[r] = to[r].size;
    stats_.bytes += to[r].size;
    size_to[r] = {&out_size[r], sizeof(uint64_t)};
    size_into[r] = {&in_size[r], sizeof(uint64_t)};
  }
  exchange_raw(size_to, size_into);
  // The buffers, then an agreement, so a rank that cannot hold what is coming stops every rank
  // before the bytes move.
  std::vector<std::string> from(size_);
  std::vector<Span> into(size_);
  std::string failure;
  try {
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      from[r].resize(in_size[r]);
      into[r] = {from[r].data(), from[r].size()};
    }
  } catch (const std::bad_alloc&) {
    uint64_t total = 0;
    for (const uint64_t n : in_size) total += n;
    failure = "out of memory receiving " + std::to_string(total) + " bytes from the other ranks";
  }
  agree(failure.empty() ? nullptr : &failure);
  exchange_raw(to, into);
  return from;
}

std::vector<std::string> Comm::all_gather(const std::string& mine) {
  Timer t(stats_);
  agree(nullptr);
  std::vector<ConstSpan> to(size_, ConstSpan{mine.data(), mine.size()});
  std::vector<std::string> from = exchange_strings(to);
  from[rank_] = mine;
  return from;
}

std::vector<std::string> Comm::all_to_all(std::vector<std::string> to) {
  Timer t(stats_);
  agree(nullptr);
  if (to.size() != static_cast<size_t>(size_)) throw Error("internal: all_to_all needs P parts");
  std::vector<ConstSpan> spans(size_);
  for (int r = 0; r < size_; ++r) spans[r] = {to[r].data(), to[r].size()};
  std::vector<std::string> from = exchange_strings(spans);
  from[rank_] = std::move(to[rank_]);
  return from;
}

std::string Comm::broadcast(const std::string& bytes, int root) {
  Timer t(stats_);
  agree(nullptr);
  if (rank_ == root) stats_.bytes += bytes.size() * static_cast<uint64_t>(size_ - 1);
  return broadcast_raw(bytes, root);
}

int64_t Comm::min(int64_t v) {
  Timer t(stats_);
  agree(nullptr);
  return min_raw(v);
}

namespace {

class SingleProcess final : public Comm {
 public:
  SingleProcess() : Comm(0, 1) {}
  std::string transport() const override { return "single process"; }

 protected:
  int64_t min_raw(int64_t v) override { return v; }
  void exchange_raw(const std::vector<ConstSpan>&, const std::vector<Span>&) override {}
  std::string broadcast_raw(const std::string& bytes, int) override { return bytes; }
};

}  // namespace

std::unique_ptr<Comm> single_process_comm() { return std::make_unique<SingleProcess>(); }

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

int launched_ranks() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"})
    if (const char* n = std::getenv(v); n != nullptr && std::atoi(n) > 0) return std::atoi(n);
  return 0;
}

bool mpi_supported() { return PPMF_HAVE_MPI != 0; }

std::unique_ptr<MpiSession> open_mpi_session() {
#if !PPMF_HAVE_MPI
  throw Error("this build has no MPI support (built without MPI: install libopenmpi-dev and rebuild)");
#else
  const std::string path = library_beside_ppmf("PPMF_MPI_LIBRARY", "libppmf_mpi.so");
  // RTLD_GLOBAL: Open MPI loads its own components, which look for libmpi's symbols.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw Error("cannot load the MPI transport " + path + ": " + (why ? why : "unknown error"));
  }
  const auto build = reinterpret_cast<decltype(&ppmf_mpi_build_id)>(dlsym(handle, "ppmf_mpi_build_id"));
  const auto open =
      reinterpret_cast<decltype(&ppmf_mpi_open_session)>(dlsym(handle, "ppmf_mpi_open_session"));
  if (build == nullptr || open == nullptr)
    throw Error(path + " is not a ppmf MPI transport (entry points missing)");
  if (std::string(build()) != PPMF_BUILD_ID)
    throw Error(path + " belongs to another build (" + build() + ", this one is " + PPMF_BUILD_ID +
                "): rebuild or reinstall them together");
  std::string error;
  MpiSession* session = open(&error);
  if (session == nullptr) throw Error(error);
  return std::unique_ptr<MpiSession>(session);
#endif
}

}  // namespace ppmf
