// The GPUs this process can use. Host-only header: no CUDA types, so the CPU build compiles it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ppmf {

struct GpuInfo {
  int index = 0;
  std::string name;
  size_t total_bytes = 0, free_bytes = 0;
  int multiprocessors = 0, cc_major = 0, cc_minor = 0;
  double memory_bandwidth_gbs = 0;  // theoretical, from clock and bus width
};

// Usable GPUs; when there are none, `why_none` says why (no driver, no device, CPU-only build).
// Any CUDA error counts as "no GPU": a machine without a driver reports "insufficient driver".
std::vector<GpuInfo> list_gpus(std::string* why_none);

}  // namespace ppmf
