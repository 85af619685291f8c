// GPU discovery (CUDA twin: the CPU-only build's list_gpus in host/backend_factory.cpp says none).
#include <cuda_runtime.h>

#include "ppmf/devices.hpp"

namespace ppmf {

std::vector<GpuInfo> list_gpus(std::string* why_none) {
  std::vector<GpuInfo> gpus;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    if (why_none) *why_none = cudaGetErrorString(status);
    (void)cudaGetLastError();  // clear the sticky error so later calls start clean
    return gpus;
  }
  if (count == 0) {
    if (why_none) *why_none = "no CUDA device found";
    return gpus;
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
  if (gpus.empty() && why_none) *why_none = "no usable CUDA device";
  return gpus;
}

}  // namespace ppmf
