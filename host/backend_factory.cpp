// Picks the backend for a --device request. The only place that asks whether CUDA was built.
#include <algorithm>
#include <cctype>

#include "cpu_backend.hpp"
#include "ppmf/backend.hpp"
#include "ppmf/devices.hpp"

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
  } else if (!s.empty() && s.size() < 4 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
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
    if (gpus.empty()) throw Error("--device " + std::to_string(device.gpu) + ": no usable GPU (" + why + ")");
    if (device.gpu >= static_cast<int>(gpus.size()))
      throw Error("--device " + std::to_string(device.gpu) + ": there are only " + std::to_string(gpus.size()) +
                  " GPU(s) (indices 0.." + std::to_string(gpus.size() - 1) + ")");
    throw Error("--device " + std::to_string(device.gpu) +
                ": the CUDA training backend is not part of this build yet; use --device cpu");
  }
  // "auto" is the CPU until the CUDA backend exists.
  return make_cpu_backend(threads);
}

}  // namespace ppmf
