// The device's float32 multiply-add peak, measured (CPU twin: CpuBackend::peak_flops in
// host/cpu_backend.cpp): independent chains of multiply-adds in registers, enough blocks to fill
// every multiprocessor, timed with CUDA events; best of three, in flops/s (2 per multiply-add).
#pragma once

#include <cuda_runtime.h>

namespace ppmf::cuda {

double measure_peak_flops(int sm_count, cudaStream_t stream);

}  // namespace ppmf::cuda
