// Multiply-add peak (see measure.cuh).
#include <algorithm>

#include "cuda_check.cuh"
#include "device_buffer.cuh"
#include "measure.cuh"

namespace ppmf::cuda {
namespace {

constexpr int kChains = 8;
constexpr int kIterations = 1 << 12;
constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) fma_chains(float a, float b, float* sink) {
  float acc[kChains];
#pragma unroll
  for (int k = 0; k < kChains; ++k) acc[k] = static_cast<float>(threadIdx.x + k);
  for (int it = 0; it < kIterations; ++it) {
#pragma unroll
    for (int k = 0; k < kChains; ++k) acc[k] = fmaf(acc[k], a, b);
  }
  float s = 0.f;
#pragma unroll
  for (int k = 0; k < kChains; ++k) s += acc[k];
  if (s == 12345.f) *sink = s;  // keeps the loop; practically never true
}

}  // namespace

double measure_peak_flops(int sm_count, cudaStream_t stream) {
  DeviceBuffer<float> sink(1);
  const int blocks = sm_count * 8;
  Event start, stop;
  double best = 0;
  for (int rep = 0; rep < 4; ++rep) {
    PPMF_CUDA_CHECK(cudaEventRecord(start.get(), stream));
    fma_chains<<<blocks, kThreads, 0, stream>>>(0.999999f, 1e-7f, sink.data());
    PPMF_CUDA_CHECK_LAUNCH("fma_chains");
    PPMF_CUDA_CHECK(cudaEventRecord(stop.get(), stream));
    const float ms = elapsed_ms(start, stop);
    const double flops = 2.0 * kChains * kIterations * static_cast<double>(blocks) * kThreads;
    if (rep > 0 && ms > 0) best = std::max(best, flops / (ms * 1e-3));  // the first warms up
  }
  return best;
}

}  // namespace ppmf::cuda
