// Error checking for CUDA runtime, cuBLAS and cuSPARSE calls: every failure becomes a ppmf::Error
// naming the call, file and line. The _NOEXCEPT variant is for destructors.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <cstdio>
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

// After a kernel launch: launch-configuration errors surface here, not at the next sync.
#define PPMF_CUDA_CHECK_LAUNCH() PPMF_CUDA_CHECK(cudaGetLastError())

// cuBLAS and cuSPARSE calls: the status name comes from the library itself.
#define PPMF_CUBLAS_CHECK(call)                                                         \
  do {                                                                                  \
    const cublasStatus_t ppmf_status_ = (call);                                         \
    if (ppmf_status_ != CUBLAS_STATUS_SUCCESS)                                          \
      ::ppmf::cuda::throw_library("cuBLAS", #call, cublasGetStatusString(ppmf_status_), \
                                  static_cast<int>(ppmf_status_), __FILE__, __LINE__);  \
  } while (0)

#define PPMF_CUSPARSE_CHECK(call)                                                          \
  do {                                                                                     \
    const cusparseStatus_t ppmf_status_ = (call);                                          \
    if (ppmf_status_ != CUSPARSE_STATUS_SUCCESS)                                           \
      ::ppmf::cuda::throw_library("cuSPARSE", #call, cusparseGetErrorString(ppmf_status_), \
                                  static_cast<int>(ppmf_status_), __FILE__, __LINE__);     \
  } while (0)

// For destructors (handle and descriptor teardown): report, never throw.
#define PPMF_CUBLAS_CHECK_NOEXCEPT(call)                                \
  do {                                                                  \
    const cublasStatus_t ppmf_status_ = (call);                         \
    if (ppmf_status_ != CUBLAS_STATUS_SUCCESS)                          \
      std::fprintf(stderr, "ppmf-gpu: warning: %s failed: %s\n", #call, \
                   cublasGetStatusString(ppmf_status_));                \
  } while (0)

#define PPMF_CUSPARSE_CHECK_NOEXCEPT(call)                              \
  do {                                                                  \
    const cusparseStatus_t ppmf_status_ = (call);                       \
    if (ppmf_status_ != CUSPARSE_STATUS_SUCCESS)                        \
      std::fprintf(stderr, "ppmf-gpu: warning: %s failed: %s\n", #call, \
                   cusparseGetErrorString(ppmf_status_));               \
  } while (0)
