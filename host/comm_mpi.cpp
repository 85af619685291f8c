// MPI transport (libppmf_mpi): agreement by MPI_Allreduce, exchanges by nonblocking point-to-point
// messages straight between the callers' buffers, in chunks of at most 1 GiB (MPI counts are
// ints), broadcasts by MPI_Bcast in the same chunks.
#include "ppmf/comm_mpi.hpp"

#include "build_id.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace ppmf {
namespace {

[[noreturn]] void mpi_failed(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) len = 0;
  throw Error(std::string("MPI: ") + call + " failed (" + file + ":" + std::to_string(line) +
              "): " + std::string(text, static_cast<size_t>(len)));
}

#define PPMF_MPI_CHECK(call)                                        \
  do {                                                              \
    const int ppmf_mpi_rc = (call);                                 \
    if (ppmf_mpi_rc != MPI_SUCCESS)                                 \
      mpi_failed(ppmf_mpi_rc, #call, __FILE__, __LINE__);           \
  } while (0)

constexpr size_t kChunk = size_t{1} << 30;

int chunks_of(size_t bytes) { return static_cast<int>((bytes + kChunk - 1) / kChunk); }

int world_rank() {
  int r = 0;
  PPMF_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &r));
  return r;
}
int world_size() {
  int n = 0;
  PPMF_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &n));
  return n;
}

class MpiComm final : public Comm {
 public:
  MpiComm() : Comm(world_rank(), world_size()) {}
  std::string transport() const override { return "mpi"; }

 protected:
  int64_t min_raw(int64_t v) override {
    int64_t out = 0;
    PPMF_MPI_CHECK(MPI_Allreduce(&v, &out, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD));
    return out;
  }

  void exchange_raw(const std::vector<ConstSpan>& to, const std::vector<Span>& into) override {
    const int p = size(), me = rank();
    std::vector<MPI_Request> requests;
    for (int r = 0; r < p; ++r) {
      if (r == me) continue;
      char* at = static_cast<char*>(into[r].data);
      for (int c = 0; c < chunks_of(into[r].size); ++c) {
        const size_t off = static_cast<size_t>(c) * kChunk;
        requests.emplace_back();
        PPMF_MPI_CHECK(MPI_Irecv(at + off, static_cast<int>(std::min(kChunk, into[r].size - off)),
                                 MPI_BYTE, r, c, MPI_COMM_WORLD, &requests.back()));
      }
    }
    for (int r = 0; r < p; ++r) {
      if (r == me) continue;
      const char* from = static_cast<const char*>(to[r].data);
      for (int c = 0; c < chunks_of(to[r].size); ++c) {
        const size_t off = static_cast<size_t>(c) * kChunk;
        requests.emplace_back();
        PPMF_MPI_CHECK(MPI_Isend(from + off, static_cast<int>(std::min(kChunk, to[r].size - off)),
                                 MPI_BYTE, r, c, MPI_COMM_WORLD, &requests.back()));
      }
    }
    PPMF_MPI_CHECK(MPI_Waitall(static_cast<int>(requests.size()), requests.data(),
                               MPI_STATUSES_IGNORE));
  }

  std::string broadcast_raw(const std::string& bytes, int root) override {
    uint64_t n = rank() == root ? bytes.size() : 0;
    PPMF_MPI_CHECK(MPI_Bcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD));
    std::string out = rank() == root ? bytes : std::string(n, '\0');
    for (int c = 0; c < chunks_of(n); ++c) {
      const size_t at = static_cast<size_t>(c) * kChunk;
      PPMF_MPI_CHECK(MPI_Bcast(&out[at], static_cast<int>(std::min<size_t>(kChunk, n - at)),
                               MPI_BYTE, root, MPI_COMM_WORLD));
    }
    return out;
  }
};

class WorldSession final : public MpiSession {
 public:
  WorldSession() {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
      throw Error("MPI: MPI_Init_thread failed");
    try {
      PPMF_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
      if (provided < MPI_THREAD_FUNNELED)
        throw Error("MPI: this MPI library cannot be called from a multi-threaded process");
      MPI_Comm node;
      PPMF_MPI_CHECK(
          MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
      PPMF_MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
      PPMF_MPI_CHECK(MPI_Comm_free(&node));
      world_ = std::make_unique<MpiComm>();
    } catch (...) {
      MPI_Finalize();
      throw;
    }
  }
  ~WorldSession() override {
    world_.reset();
    MPI_Finalize();
  }
  Comm& world() override { return *world_; }
  int local_rank() const override { return local_rank_; }

 private:
  std::unique_ptr<Comm> world_;
  int local_rank_ = 0;
};

}  // namespace
}  // namespace ppmf

extern "C" const char* ppmf_mpi_build_id() { return PPMF_BUILD_ID; }

extern "C" ppmf::MpiSession* ppmf_mpi_open_session(std::string* error) {
  try {
    return new ppmf::WorldSession();
  } catch (const std::exception& e) {
    *error = e.what();
  }
  return nullptr;
}
