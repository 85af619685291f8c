// Picks the backend for a --device request. The only place that asks whether CUDA was built.
#include <algorithm>
#include <cctype>

#include "cpu_backend.hpp"
#include "ppmf/backend.hpp"
#include "ppmf/common.hpp"
#include "ppmf/devices.hpp"

#if PPMF_WITH_CUDA
#include "cuda_backend.hpp"
#endif

namespace ppmf {

#if !PPMF_WITH_CUDA
std::vector<GpuInfo> list_gpus(std::string* why_none) {
  if (why_none) *why_none = "this build has no CUDA support (built without a CUDA compiler)";
  return {};
}
#endif

DeviceSpec parse_device(const std::string& s) {
  DeviceSpec d;
  if (s == "cpu") {
    d.kind = DeviceSpec::kCpu;
  } else if (s == "auto") {
    d.kind = DeviceSpec::kAuto;
  } else if (!s.empty() && s.size() < 4 && std::all_of(s.begin(), s.end(), [](char c) {
               return std::isdigit(static_cast<unsigned char>(c));
             })) {
    d.kind = DeviceSpec::kGpu;
    d.gpu = std::stoi(s);
  } else {
    throw Error("unknown --device '" + s + "' (expected cpu, auto or a GPU index such as 0)");
  }
  return d;
}

std::unique_ptr<Backend> make_backend(const DeviceSpec& device, int threads) {
  if (device.kind == DeviceSpec::kGpu) {
    std::string why;
    const std::vector<GpuInfo> gpus = list_gpus(&why);
    if (gpus.empty())
      throw Error("--device " + std::to_string(device.gpu) + ": no usable GPU (" + why + ")");
    if (device.gpu >= static_cast<int>(gpus.size()))
      throw Error("--device " + std::to_string(device.gpu) + ": there are only " +
                  std::to_string(gpus.size()) + " GPU(s) (indices 0.." +
                  std::to_string(gpus.size() - 1) + ")");
#if PPMF_WITH_CUDA
    return make_cuda_backend(gpus[device.gpu].index);
#else
    throw Error("--device " + std::to_string(device.gpu) +
                ": this build has no CUDA support; use --device cpu");
#endif
  }
#if PPMF_WITH_CUDA
  // "auto": the first GPU when one is usable, else the CPU.
  if (device.kind == DeviceSpec::kAuto) {
    const std::vector<GpuInfo> gpus = list_gpus(nullptr);
    if (!gpus.empty()) return make_cuda_backend(gpus.front().index);
  }
#endif
  return make_cpu_backend(threads);
}

}  // namespace ppmf
