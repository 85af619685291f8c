// The CUDA backend (host-only header: no CUDA types, so the C++ side of the build includes it).
// Implementation in kernels/cuda_backend.cu; it mirrors host/cpu_backend.cpp method by method.
#pragma once

#include <memory>

#include "ppmf/backend.hpp"

namespace ppmf {

// A backend on GPU `device` (cudaSetDevice). Any CUDA error, including a missing or bad device,
// throws ppmf::Error naming the call, file and line.
std::unique_ptr<Backend> make_cuda_backend(int device);

}  // namespace ppmf
