// RAII device memory: one typed allocation, freed in the destructor (never throws: a failing
// cudaFree is reported on stderr). Host twin: the std::vector members of SideState in
// host/cpu_backend.cpp.
//
// Copies to and from the host run on the given stream; downloads synchronize it, so the host data
// is ready when they return. A zero-sized buffer holds no allocation (data() is nullptr).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <utility>

#include "cuda_check.cuh"

namespace ppmf::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) { resize(n); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      ptr_ = std::exchange(o.ptr_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }

  // Exactly n elements; the old contents are lost when the size changes.
  void resize(size_t n) {
    if (n == size_) return;
    release();
    if (n == 0) return;
    void* p = nullptr;
    PPMF_CUDA_CHECK(cudaMalloc(&p, n * sizeof(T)));
    ptr_ = static_cast<T*>(p);
    size_ = n;
  }
  // At least n elements (grows only; contents lost on growth).
  void ensure(size_t n) {
    if (n > size_) resize(n);
  }
  void release() noexcept {
    if (ptr_ != nullptr) PPMF_CUDA_CHECK_NOEXCEPT(cudaFree(ptr_));
    ptr_ = nullptr;
    size_ = 0;
  }

  T* data() { return ptr_; }
  const T* data() const { return ptr_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

  void zero(cudaStream_t stream) {
    if (size_ > 0) PPMF_CUDA_CHECK(cudaMemsetAsync(ptr_, 0, bytes(), stream));
  }
  // Resizes to n and copies n elements from the host.
  void assign(const T* host, size_t n, cudaStream_t stream) {
    resize(n);
    if (n > 0)
      PPMF_CUDA_CHECK(cudaMemcpyAsync(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  // Copies n elements from the host into the start, growing (never shrinking) the buffer.
  void upload(const T* host, size_t n, cudaStream_t stream) {
    ensure(n);
    if (n > 0)
      PPMF_CUDA_CHECK(cudaMemcpyAsync(ptr_, host, n * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  // Copies the first n elements to the host and waits for them.
  void download(T* host, size_t n, cudaStream_t stream) const {
    if (n == 0) return;
    PPMF_CUDA_CHECK(cudaMemcpyAsync(host, ptr_, n * sizeof(T), cudaMemcpyDeviceToHost, stream));
    PPMF_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

 private:
  T* ptr_ = nullptr;
  size_t size_ = 0;
};

// A CUDA event owned for a scope (timing); destroyed without throwing.
class Event {
 public:
  Event() { PPMF_CUDA_CHECK(cudaEventCreate(&event_)); }
  ~Event() { PPMF_CUDA_CHECK_NOEXCEPT(cudaEventDestroy(event_)); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Milliseconds between two recorded events, after waiting for the second.
inline float elapsed_ms(const Event& start, const Event& stop) {
  PPMF_CUDA_CHECK(cudaEventSynchronize(stop.get()));
  float ms = 0;
  PPMF_CUDA_CHECK(cudaEventElapsedTime(&ms, start.get(), stop.get()));
  return ms;
}

}  // namespace ppmf::cuda
