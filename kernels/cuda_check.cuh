// Error checking for CUDA runtime, cuBLAS and cuSPARSE calls: every failure becomes a ppmf::Error
// naming the call, file and line. The _NOEXCEPT variant is for destructors.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "ppmf/common.hpp"

namespace ppmf::cuda {

[[noreturn]] inline void throw_cuda(const char* call, const char* what, const char* file, int line) {
  throw Error(std::string("CUDA error: ") + what + " in " + call + " at " + file + ":" + std::to_string(line));
}

}  // namespace ppmf::cuda

#define PPMF_CUDA_CHECK(call)                                                        \
  do {                                                                               \
    const cudaError_t ppmf_status_ = (call);                                         \
    if (ppmf_status_ != cudaSuccess)                                                 \
      ::ppmf::cuda::throw_cuda(#call, cudaGetErrorString(ppmf_status_), __FILE__, __LINE__); \
  } while (0)

#define PPMF_CUDA_CHECK_NOEXCEPT(call)                                                        \
  do {                                                                                        \
    const cudaError_t ppmf_status_ = (call);                                                  \
    if (ppmf_status_ != cudaSuccess)                                                          \
      std::fprintf(stderr, "ppmf-gpu: warning: %s failed: %s\n", #call, cudaGetErrorString(ppmf_status_)); \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, not at the next sync.
#define PPMF_CUDA_CHECK_LAUNCH() PPMF_CUDA_CHECK(cudaGetLastError())
