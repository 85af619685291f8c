// The device state of one side (users or items): its rows, training entries and priors. Host twin:
// SideState in host/cpu_backend.cpp, with the same layouts: row i holds x = [u; alpha] as a mean
// row and a variance row of `stride` floats each, one after the other (padding 0); the training
// entries of row i are other[offsets[i] .. offsets[i+1]) with their values; prior rows r (see
// include/ppmf/side_priors.hpp) are addressed by the extended index n + r.
//
// DeviceSide owns the memory; SideView is the plain struct of pointers that kernels take by value.
#pragma once

#include <cstdint>

#include "device_buffer.cuh"
#include "ppmf/entry_math.hpp"
#include "ppmf/side_priors.hpp"

namespace ppmf::cuda {

struct SideView {
  int n = 0, rank = 0, dim = 0, stride = 0, n_groups = 0, prior_rows = 0;
  float* rows = nullptr;   // n * 2 * stride
  float* logsd = nullptr;  // n * stride
  const int32_t* group = nullptr;
  const int32_t* count = nullptr;
  // Training entries, CSR by this side's rows.
  const int64_t* offsets = nullptr;  // n + 1
  const int32_t* other = nullptr;    // nnz
  const float* value = nullptr;      // nnz
  // Training priors per group (double): precision dim x dim, precision x mean, mean, log det.
  const double *prec = nullptr, *prec_mean = nullptr, *prior_mean = nullptr,
               *log_det_prec = nullptr;
  // Prediction rows: mean, diagonal and full covariance.
  const float *row_mean = nullptr, *row_var = nullptr, *row_cov = nullptr;

#if defined(__CUDACC__)
  __device__ __forceinline__ float* mean_of(int32_t i) const {
    return rows + static_cast<size_t>(i) * 2 * stride;
  }
  __device__ __forceinline__ float* var_of(int32_t i) const { return mean_of(i) + stride; }
  // The distribution of an extended index: a trained row, or a prior row (full covariance).
  __device__ __forceinline__ math::RowDist dist(int32_t x) const {
    if (x < n) return {mean_of(x), var_of(x), nullptr};
    const size_t r = static_cast<size_t>(x - n);
    return {row_mean + r * dim, row_var + r * dim, row_cov + r * dim * dim};
  }
#endif
};

class DeviceSide {
 public:
  int n = 0, rank = 0, dim = 0, stride = 0;
  DeviceBuffer<float> rows, logsd;
  DeviceBuffer<int32_t> group, count;
  DeviceBuffer<int64_t> offsets;
  DeviceBuffer<int32_t> other;
  DeviceBuffer<float> value;
  SidePriors host_priors;
  DeviceBuffer<double> prec, prec_mean, prior_mean, log_det_prec;
  DeviceBuffer<float> row_mean, row_var, row_cov;

  // Device bytes of the rows of n entities of `stride` floats (mean, variance, log-sd, group, count).
  static size_t bytes_for(size_t entities, size_t row_stride) {
    return entities * (row_stride * sizeof(float) * 3 + sizeof(int32_t) * 2 + sizeof(int64_t));
  }

  SideView view() const {
    SideView v;
    v.n = n;
    v.rank = rank;
    v.dim = dim;
    v.stride = stride;
    v.n_groups = host_priors.n_groups;
    v.prior_rows = host_priors.rows;
    v.rows = const_cast<float*>(rows.data());
    v.logsd = const_cast<float*>(logsd.data());
    v.group = group.data();
    v.count = count.data();
    v.offsets = offsets.data();
    v.other = other.data();
    v.value = value.data();
    v.prec = prec.data();
    v.prec_mean = prec_mean.data();
    v.prior_mean = prior_mean.data();
    v.log_det_prec = log_det_prec.data();
    v.row_mean = row_mean.data();
    v.row_var = row_var.data();
    v.row_cov = row_cov.data();
    return v;
  }
};

}  // namespace ppmf::cuda
