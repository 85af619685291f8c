// The NCCL transport of comm.hpp, inside the CUDA plugin: every collective between the GPUs of a
// run's ranks (one GPU per rank), its communicator set up from a unique id that rank 0 makes and
// libppmf broadcasts over the bootstrap Comm (MPI); with no bootstrap, a one-rank communicator.
//
// libnccl is opened with dlopen the first time a communicator is made, so GPU runs that do not
// use it never load it. Messages go through device staging buffers on the plugin's own stream:
// agreement by ncclAllReduce (min), exchanges by grouped ncclSend / ncclRecv,
// broadcasts by ncclBroadcast. (Both sides know every message's size: Comm exchanges sizes first
// where they vary.)
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <nccl.h>

#include <cstring>
#include <string>
#include <vector>

#include "cuda_check.cuh"
#include "cuda_plugin.hpp"
#include "device_buffer.cuh"

namespace ppmf::cuda {
namespace {

// The NCCL entry points used here, from the library loaded at run time.
struct Nccl {
  decltype(&ncclGetUniqueId) get_unique_id = nullptr;
  decltype(&ncclCommInitRank) comm_init_rank = nullptr;
  decltype(&ncclCommDestroy) comm_destroy = nullptr;
  decltype(&ncclAllReduce) all_reduce = nullptr;
  decltype(&ncclBroadcast) broadcast = nullptr;
  decltype(&ncclSend) send = nullptr;
  decltype(&ncclRecv) recv = nullptr;
  decltype(&ncclGroupStart) group_start = nullptr;
  decltype(&ncclGroupEnd) group_end = nullptr;
  decltype(&ncclGetErrorString) error_string = nullptr;
};

const Nccl& nccl() {
  static const Nccl n = [] {
    Nccl x;
    void* h = nullptr;
    for (const char* name : {PPMF_NCCL_LIBRARY, "libnccl.so.2", "libnccl.so"})
      if ((h = dlopen(name, RTLD_NOW | RTLD_LOCAL)) != nullptr) break;
    if (h == nullptr) {
      const char* why = dlerror();
      throw Error(std::string("cannot load NCCL (") + PPMF_NCCL_LIBRARY + " or libnccl.so.2): " +
                  (why != nullptr ? why : "not found"));
    }
    const auto get = [&](const char* sym) {
      void* p = dlsym(h, sym);
      if (p == nullptr) throw Error(std::string("NCCL library without ") + sym);
      return p;
    };
    x.get_unique_id = reinterpret_cast<decltype(x.get_unique_id)>(get("ncclGetUniqueId"));
    x.comm_init_rank = reinterpret_cast<decltype(x.comm_init_rank)>(get("ncclCommInitRank"));
    x.comm_destroy = reinterpret_cast<decltype(x.comm_destroy)>(get("ncclCommDestroy"));
    x.all_reduce = reinterpret_cast<decltype(x.all_reduce)>(get("ncclAllReduce"));
    x.broadcast = reinterpret_cast<decltype(x.broadcast)>(get("ncclBroadcast"));
    x.send = reinterpret_cast<decltype(x.send)>(get("ncclSend"));
    x.recv = reinterpret_cast<decltype(x.recv)>(get("ncclRecv"));
    x.group_start = reinterpret_cast<decltype(x.group_start)>(get("ncclGroupStart"));
    x.group_end = reinterpret_cast<decltype(x.group_end)>(get("ncclGroupEnd"));
    x.error_string = reinterpret_cast<decltype(x.error_string)>(get("ncclGetErrorString"));
    return x;
  }();
  return n;
}

#define PPMF_NCCL_CHECK(call)                                                                \
  do {                                                                                       \
    const ncclResult_t ppmf_nccl_rc = (call);                                                \
    if (ppmf_nccl_rc != ncclSuccess)                                                         \
      ::ppmf::cuda::throw_library("NCCL", #call,                                             \
                                  ::ppmf::cuda::nccl().error_string(ppmf_nccl_rc),           \
                    static_cast<int>(ppmf_nccl_rc), __FILE__, __LINE__);                     \
  } while (0)

class NcclComm final : public Comm {
 public:
  NcclComm(int device, int rank, int size, const ncclUniqueId& id)
      : Comm(rank, size), device_(device) {
    PPMF_CUDA_CHECK(cudaSetDevice(device_));
    PPMF_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    try {
      PPMF_NCCL_CHECK(nccl().comm_init_rank(&comm_, size, id, rank));
    } catch (...) {
      PPMF_CUDA_CHECK_NOEXCEPT(cudaStreamDestroy(stream_));
      throw;
    }
  }
  ~NcclComm() override {
    if (comm_ != nullptr) nccl().comm_destroy(comm_);
    if (stream_ != nullptr) PPMF_CUDA_CHECK_NOEXCEPT(cudaStreamDestroy(stream_));
  }
  std::string transport() const override { return "nccl"; }

 protected:
  int64_t min_raw(int64_t v) override {
    PPMF_CUDA_CHECK(cudaSetDevice(device_));
    word_.assign(&v, 1, stream_);
    PPMF_NCCL_CHECK(nccl().all_reduce(word_.data(), word_.data(), 1, ncclInt64, ncclMin, comm_, stream_));
    int64_t out = 0;
    word_.download(&out, 1, stream_);
    return out;
  }

  void exchange_raw(const std::vector<ConstSpan>& to, const std::vector<Span>& into) override {
    PPMF_CUDA_CHECK(cudaSetDevice(device_));
    const int p = size(), me = rank();
    size_t out_total = 0, in_total = 0;
    std::vector<size_t> out_at(p, 0), in_at(p, 0);
    for (int r = 0; r < p; ++r) {
      if (r == me) continue;
      out_at[r] = out_total;
      in_at[r] = in_total;
      out_total += to[r].size;
      in_total += into[r].size;
    }
    out_.ensure(out_total);
    in_.ensure(in_total);
    for (int r = 0; r < p; ++r)
      if (r != me && to[r].size > 0)
        PPMF_CUDA_CHECK(cudaMemcpyAsync(out_.data() + out_at[r], to[r].data, to[r].size,
                                        cudaMemcpyHostToDevice, stream_));
    PPMF_NCCL_CHECK(nccl().group_start());
    for (int r = 0; r < p; ++r) {
      if (r == me) continue;
      if (to[r].size > 0)
        PPMF_NCCL_CHECK(nccl().send(out_.data() + out_at[r], to[r].size, ncclChar, r, comm_, stream_));
      if (into[r].size > 0)
        PPMF_NCCL_CHECK(nccl().recv(in_.data() + in_at[r], into[r].size, ncclChar, r, comm_, stream_));
    }
    PPMF_NCCL_CHECK(nccl().group_end());
    for (int r = 0; r < p; ++r)
      if (r != me && into[r].size > 0)
        PPMF_CUDA_CHECK(cudaMemcpyAsync(into[r].data, in_.data() + in_at[r], into[r].size,
                                        cudaMemcpyDeviceToHost, stream_));
    PPMF_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  std::string broadcast_raw(const std::string& bytes, int root) override {
    PPMF_CUDA_CHECK(cudaSetDevice(device_));
    const int64_t n = rank() == root ? static_cast<int64_t>(bytes.size()) : 0;
    const int64_t size = nccl_broadcast_word(n, root);
    std::string out(static_cast<size_t>(size), '\0');
    if (size == 0) return out;
    out_.ensure(static_cast<size_t>(size));
    if (rank() == root)
      PPMF_CUDA_CHECK(cudaMemcpyAsync(out_.data(), bytes.data(), bytes.size(),
                                      cudaMemcpyHostToDevice, stream_));
    PPMF_NCCL_CHECK(nccl().broadcast(out_.data(), out_.data(), static_cast<size_t>(size), ncclChar,
                                     root, comm_, stream_));
    PPMF_CUDA_CHECK(cudaMemcpyAsync(&out[0], out_.data(), out.size(), cudaMemcpyDeviceToHost, stream_));
    PPMF_CUDA_CHECK(cudaStreamSynchronize(stream_));
    return out;
  }

 private:
  int64_t nccl_broadcast_word(int64_t v, int root) {
    word_.assign(&v, 1, stream_);
    PPMF_NCCL_CHECK(nccl().broadcast(word_.data(), word_.data(), 1, ncclInt64, root, comm_, stream_));
    int64_t out = 0;
    word_.download(&out, 1, stream_);
    return out;
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  DeviceBuffer<int64_t> word_;
  DeviceBuffer<char> out_, in_;
};

}  // namespace
}  // namespace ppmf::cuda

// The plugin never calls the bootstrap communicator: libppmf runs the agreements around these.
extern "C" bool ppmf_cuda_plugin_nccl_prepare(int device, std::string* error) {
  try {
    ppmf::cuda::nccl();
    PPMF_CUDA_CHECK(cudaSetDevice(device));
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
  }
  return false;
}

extern "C" bool ppmf_cuda_plugin_nccl_unique_id(std::string* id, std::string* error) {
  try {
    ncclUniqueId u{};
    PPMF_NCCL_CHECK(ppmf::cuda::nccl().get_unique_id(&u));
    id->assign(reinterpret_cast<const char*>(&u), sizeof u);
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
  }
  return false;
}

extern "C" ppmf::Comm* ppmf_cuda_plugin_make_nccl_comm(int device, int rank, int size,
                                                       const std::string& id, std::string* error) {
  try {
    ncclUniqueId u{};
    if (id.size() != sizeof u) throw ppmf::Error("internal: a NCCL unique id of the wrong size");
    std::memcpy(&u, id.data(), sizeof u);
    return new ppmf::cuda::NcclComm(device, rank, size, u);
  } catch (const std::exception& e) {
    *error = e.what();
  }
  return nullptr;
}
