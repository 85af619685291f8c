// The device state of one side (users or items): guide, cached variances, Adam moments, priors,
// training counts and the per-batch gradient accumulators. Host twin: SideState in
// host/cpu_backend.cpp, with the same layouts (rows of `stride` floats, padding 0; prior rows for
// groups 0..n_groups-1 and the population at row n_groups).
//
// DeviceSide owns the memory; SideView is the plain struct of pointers that kernels take by value.
#pragma once

#include <cstdint>

#include "device_buffer.cuh"

namespace ppmf::cuda {

struct SideView {
  int n = 0, rank = 0, stride = 0, n_groups = 0;
  float *mean = nullptr, *logsd = nullptr, *var = nullptr;                 // n * stride
  float *bias_mean = nullptr, *bias_logsd = nullptr, *bias_var = nullptr;  // n
  float *m1_mean = nullptr, *m2_mean = nullptr, *m1_logsd = nullptr,
        *m2_logsd = nullptr;  // n * stride
  float *m1_bias = nullptr, *m2_bias = nullptr, *m1_bias_logsd = nullptr,
        *m2_bias_logsd = nullptr;                    // n
  const int32_t *group = nullptr, *count = nullptr;  // n
  const float *prior_mean = nullptr, *prior_prec = nullptr,
              *prior_var = nullptr;  // (n_groups + 1) * stride
  const float *prior_bias_mean = nullptr, *prior_bias_prec = nullptr,
              *prior_bias_var = nullptr;  // n_groups + 1
  // Batch accumulators, zero between batches: likelihood gradient sums (n * stride, n), occurrences
  // in the batch (n), the rows touched by the batch in first-touch order, and two touched counters
  // (used alternately by successive batches; see step_kernels.cuh).
  float *g_mean = nullptr, *g_logsd = nullptr, *g_bias = nullptr;
  int32_t *occ = nullptr, *touched = nullptr, *touched_count = nullptr;

#if defined(__CUDACC__)
  // Rows of an extended index: 0..n-1 an entity, n + g the prior of group g, n + n_groups the
  // population prior.
  __device__ __forceinline__ const float* mean_row(int32_t x) const {
    return x < n ? mean + static_cast<size_t>(x) * stride
                 : prior_mean + static_cast<size_t>(x - n) * stride;
  }
  __device__ __forceinline__ const float* var_row(int32_t x) const {
    return x < n ? var + static_cast<size_t>(x) * stride
                 : prior_var + static_cast<size_t>(x - n) * stride;
  }
  __device__ __forceinline__ float bias_mean_of(int32_t x) const {
    return x < n ? bias_mean[x] : prior_bias_mean[x - n];
  }
  __device__ __forceinline__ float bias_var_of(int32_t x) const {
    return x < n ? bias_var[x] : prior_bias_var[x - n];
  }
#endif
};

class DeviceSide {
 public:
  int n = 0, rank = 0, stride = 0, n_groups = 0;
  DeviceBuffer<float> mean, logsd, var, bias_mean, bias_logsd, bias_var;
  DeviceBuffer<float> m1_mean, m2_mean, m1_logsd, m2_logsd, m1_bias, m2_bias, m1_bias_logsd,
      m2_bias_logsd;
  DeviceBuffer<int32_t> group, count;
  DeviceBuffer<float> prior_mean, prior_prec, prior_var, prior_bias_mean, prior_bias_prec,
      prior_bias_var;
  DeviceBuffer<float> g_mean, g_logsd, g_bias;
  DeviceBuffer<int32_t> occ, touched, touched_count;
  // Rows with at least one training entry (the "touched" list of a full batch) and their number.
  DeviceBuffer<int32_t> active, active_count;

  // Device bytes of the guide, optimizer state and accumulators for n rows of `stride` floats.
  static size_t bytes_for(size_t rows, size_t row_stride) {
    return rows * row_stride * sizeof(float) * 9 +
           rows * (sizeof(float) * 10 + sizeof(int32_t) * 5);
  }

  SideView view() {
    SideView v;
    v.n = n;
    v.rank = rank;
    v.stride = stride;
    v.n_groups = n_groups;
    v.mean = mean.data();
    v.logsd = logsd.data();
    v.var = var.data();
    v.bias_mean = bias_mean.data();
    v.bias_logsd = bias_logsd.data();
    v.bias_var = bias_var.data();
    v.m1_mean = m1_mean.data();
    v.m2_mean = m2_mean.data();
    v.m1_logsd = m1_logsd.data();
    v.m2_logsd = m2_logsd.data();
    v.m1_bias = m1_bias.data();
    v.m2_bias = m2_bias.data();
    v.m1_bias_logsd = m1_bias_logsd.data();
    v.m2_bias_logsd = m2_bias_logsd.data();
    v.group = group.data();
    v.count = count.data();
    v.prior_mean = prior_mean.data();
    v.prior_prec = prior_prec.data();
    v.prior_var = prior_var.data();
    v.prior_bias_mean = prior_bias_mean.data();
    v.prior_bias_prec = prior_bias_prec.data();
    v.prior_bias_var = prior_bias_var.data();
    v.g_mean = g_mean.data();
    v.g_logsd = g_logsd.data();
    v.g_bias = g_bias.data();
    v.occ = occ.data();
    v.touched = touched.data();
    v.touched_count = touched_count.data();
    return v;
  }
};

}  // namespace ppmf::cuda
