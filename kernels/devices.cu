// GPU discovery inside the CUDA plugin, and the plugin's build tag (see cuda_plugin.hpp).
#include <cuda_runtime.h>

#include "build_id.hpp"
#include "cuda_plugin.hpp"

extern "C" const char* ppmf_cuda_plugin_abi() {
  return PPMF_BUILD_ID;
}

extern "C" bool ppmf_cuda_plugin_list_gpus(std::vector<ppmf::GpuInfo>* out, std::string* why_none) {
  using ppmf::GpuInfo;
  std::vector<GpuInfo>& gpus = *out;
  gpus.clear();
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    *why_none = cudaGetErrorString(status);
    (void)cudaGetLastError();  // clear the sticky error so later calls start clean
    return false;
  }
  if (count == 0) {
    *why_none = "no CUDA device found";
    return false;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) {
      (void)cudaGetLastError();
      continue;
    }
    GpuInfo g;
    g.index = d;
    g.name = prop.name;
    g.total_bytes = prop.totalGlobalMem;
    g.multiprocessors = prop.multiProcessorCount;
    g.cc_major = prop.major;
    g.cc_minor = prop.minor;
    int mem_clock_khz = 0, bus_bits = 0;
    cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, d);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, d);
    g.memory_bandwidth_gbs = 2.0 * mem_clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
    size_t free_b = 0, total_b = 0;
    if (cudaSetDevice(d) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess)
      g.free_bytes = free_b;
    (void)cudaGetLastError();
    gpus.push_back(g);
  }
  if (gpus.empty()) *why_none = "no usable CUDA device";
  return !gpus.empty();
}
