// Error checking for CUDA runtime and cuBLAS calls: every failure becomes a ppmf::Error naming the
// call, file and line. The _NOEXCEPT variant is for destructors.
//
// A kernel fault would otherwise surface at the next synchronising call, under that call's name.
// With the environment variable PPMF_CUDA_SYNC=1 every launch is followed by a device
// synchronisation and a check that names the kernel (slow; for debugging and the GPU check's test
// phase).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ppmf/common.hpp"

namespace ppmf::cuda {

[[noreturn]] inline void throw_cuda(const char* call, const char* what, const char* file,
                                    int line) {
  throw Error(std::string("CUDA error: ") + what + " in " + call + " at " + file + ":" +
              std::to_string(line));
}

[[noreturn]] inline void throw_library(const char* library, const char* call, const char* what,
                                       int code, const char* file, int line) {
  throw Error(std::string(library) + " error: " + what + " (status " + std::to_string(code) +
              ") in " + call + " at " + file + ":" + std::to_string(line));
}

// Whether PPMF_CUDA_SYNC=1 asks for a synchronisation after every launch (read once).
inline bool sync_after_launch() {
  static const bool on = [] {
    const char* v = std::getenv("PPMF_CUDA_SYNC");
    return v != nullptr && std::strcmp(v, "0") != 0 && *v != '\0';
  }();
  return on;
}

inline void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess && sync_after_launch()) status = cudaDeviceSynchronize();
  if (status != cudaSuccess)
    throw_cuda(kernel, cudaGetErrorString(status), file, line);
}

}  // namespace ppmf::cuda

#define PPMF_CUDA_CHECK(call)                                                                \
  do {                                                                                       \
    const cudaError_t ppmf_status_ = (call);                                                 \
    if (ppmf_status_ != cudaSuccess)                                                         \
      ::ppmf::cuda::throw_cuda(#call, cudaGetErrorString(ppmf_status_), __FILE__, __LINE__); \
  } while (0)

#define PPMF_CUDA_CHECK_NOEXCEPT(call)                                  \
  do {                                                                  \
    const cudaError_t ppmf_status_ = (call);                            \
    if (ppmf_status_ != cudaSuccess)                                    \
      std::fprintf(stderr, "ppmf-gpu: warning: %s failed: %s\n", #call, \
                   cudaGetErrorString(ppmf_status_));                   \
  } while (0)

// After a kernel launch: launch-configuration errors surface here, not at the next sync; with
// PPMF_CUDA_SYNC=1, faults inside the kernel too.
#define PPMF_CUDA_CHECK_LAUNCH(kernel) ::ppmf::cuda::check_launch(kernel, __FILE__, __LINE__)

// cuBLAS calls: the status name comes from the library itself.
#define PPMF_CUBLAS_CHECK(call)                                                         \
  do {                                                                                  \
    const cublasStatus_t ppmf_status_ = (call);                                         \
    if (ppmf_status_ != CUBLAS_STATUS_SUCCESS)                                          \
      ::ppmf::cuda::throw_library("cuBLAS", #call, cublasGetStatusString(ppmf_status_), \
                                  static_cast<int>(ppmf_status_), __FILE__, __LINE__);  \
  } while (0)

// For destructors (handle and descriptor teardown): report, never throw.
#define PPMF_CUBLAS_CHECK_NOEXCEPT(call)                                \
  do {                                                                  \
    const cublasStatus_t ppmf_status_ = (call);                         \
    if (ppmf_status_ != CUBLAS_STATUS_SUCCESS)                          \
      std::fprintf(stderr, "ppmf-gpu: warning: %s failed: %s\n", #call, \
                   cublasGetStatusString(ppmf_status_));                \
  } while (0)
