// Picks the backend for a --device request, and loads the CUDA plugin (libppmf_cuda.so) when, and
// only when, a GPU is asked for or "auto" finds one: the CPU path never maps the CUDA runtime or
// cuBLAS, so CPU commands start as fast as a CPU-only build's.
//
// The plugin is looked for beside this library (the same directory in the build tree and after
// installation), or at $PPMF_CUDA_PLUGIN. "auto" first asks the driver (libcuda.so.1, the driver
// API, no runtime) whether there is a device at all.
#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "build_id.hpp"
#include "cpu_backend.hpp"
#include "cuda_plugin.hpp"
#include "plugins.hpp"
#include "ppmf/backend.hpp"
#include "ppmf/common.hpp"
#include "ppmf/config.hpp"
#include "ppmf/devices.hpp"

namespace ppmf {
namespace {

// The plugin once loaded (never unloaded: backends it made may outlive any one call).
struct Plugin {
  bool tried = false;
  std::string error;  // why it could not be used
  decltype(&ppmf_cuda_plugin_list_gpus) list = nullptr;
  decltype(&ppmf_cuda_plugin_make_backend) make = nullptr;
  // Plugins built with NCCL.
  decltype(&ppmf_cuda_plugin_nccl_prepare) nccl_prepare = nullptr;
  decltype(&ppmf_cuda_plugin_nccl_unique_id) nccl_unique_id = nullptr;
  decltype(&ppmf_cuda_plugin_make_nccl_comm) make_nccl = nullptr;
};

Plugin& plugin() {
  static Plugin p;
  if (p.tried) return p;
  p.tried = true;
#if !PPMF_WITH_CUDA
  p.error = "this build has no CUDA support (built without a CUDA compiler)";
  return p;
#endif
  const std::string path = library_beside_ppmf("PPMF_CUDA_PLUGIN", "libppmf_cuda.so");
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    p.error = "cannot load the CUDA plugin " + path + ": " + (why ? why : "unknown error");
    return p;
  }
  const auto abi = reinterpret_cast<decltype(&ppmf_cuda_plugin_abi)>(dlsym(handle, "ppmf_cuda_plugin_abi"));
  p.list = reinterpret_cast<decltype(p.list)>(dlsym(handle, "ppmf_cuda_plugin_list_gpus"));
  p.make = reinterpret_cast<decltype(p.make)>(dlsym(handle, "ppmf_cuda_plugin_make_backend"));
  p.nccl_prepare =
      reinterpret_cast<decltype(p.nccl_prepare)>(dlsym(handle, "ppmf_cuda_plugin_nccl_prepare"));
  p.nccl_unique_id =
      reinterpret_cast<decltype(p.nccl_unique_id)>(dlsym(handle, "ppmf_cuda_plugin_nccl_unique_id"));
  p.make_nccl =
      reinterpret_cast<decltype(p.make_nccl)>(dlsym(handle, "ppmf_cuda_plugin_make_nccl_comm"));
  if (abi == nullptr || p.list == nullptr || p.make == nullptr) {
    p.error = path + " is not a ppmf CUDA plugin (entry points missing)";
  } else if (std::string(abi()) != PPMF_BUILD_ID) {
    p.error = path + " belongs to another build (" + abi() + ", this one is " + PPMF_BUILD_ID +
              "): rebuild or reinstall them together";
  }
  if (!p.error.empty()) {
    p.list = nullptr;
    p.make = nullptr;
    p.make_nccl = nullptr;
  }
  return p;
}

// Whether the CUDA driver reports at least one device, asked without the CUDA runtime.
bool driver_sees_a_device() {
  void* cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (cuda == nullptr) return false;
  using Init = int (*)(unsigned);
  using Count = int (*)(int*);
  const auto init = reinterpret_cast<Init>(dlsym(cuda, "cuInit"));
  const auto count = reinterpret_cast<Count>(dlsym(cuda, "cuDeviceGetCount"));
  int n = 0;
  const bool found = init != nullptr && count != nullptr && init(0) == 0 && count(&n) == 0 && n > 0;
  dlclose(cuda);
  return found;
}

std::unique_ptr<Backend> cuda_backend(Plugin& p, int index) {
  std::string error;
  Backend* b = p.make(index, &error);
  if (b == nullptr) throw Error(error);
  return std::unique_ptr<Backend>(b);
}

}  // namespace

// Distributed training's row operations (backend.hpp), for backends that do not have them.
namespace {
[[noreturn]] void no_distributed(const Backend& b) {
  throw Error(b.name() + ": distributed training is not available on this device (use --device cpu)");
}
}  // namespace
void Backend::row_statistics(Side, int, int, double*) { no_distributed(*this); }
void Backend::solve_rows_from(Side, int, int, const double*) { no_distributed(*this); }
std::vector<double> Backend::implicit_background(Side) { no_distributed(*this); }
void Backend::set_background(Side, const std::vector<double>&) { no_distributed(*this); }
void Backend::get_rows(Side, int, int, float*) { no_distributed(*this); }
void Backend::set_rows(Side, int, int, const float*) { no_distributed(*this); }
void Backend::set_entry_counts(Side, const std::vector<int32_t>&) { no_distributed(*this); }

std::vector<GpuInfo> list_gpus(std::string* why_none) {
  Plugin& p = plugin();
  std::vector<GpuInfo> gpus;
  std::string why;
  if (p.list == nullptr)
    why = p.error;
  else
    p.list(&gpus, &why);
  if (gpus.empty() && why_none) *why_none = why;
  return gpus;
}

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
    throw ConfigError("device", "unknown device '" + s +
                                    "' (expected cpu, auto or a GPU index such as 0)");
  }
  return d;
}

std::unique_ptr<Backend> make_backend(const DeviceSpec& device, std::string* note) {
  if (note) note->clear();
  if (device.threads < 0 || device.threads > 4096)
    throw ConfigError("threads", "must be an integer in [0, 4096], got " +
                                     std::to_string(device.threads));
  if (device.kind == DeviceSpec::kGpu) {
    const std::string gpu = "GPU " + std::to_string(device.gpu);
    std::string why;
    const std::vector<GpuInfo> gpus = list_gpus(&why);
    if (gpus.empty()) throw ConfigError("device", gpu + " asked for, but no usable GPU (" + why + ")");
    if (device.gpu < 0 || device.gpu >= static_cast<int>(gpus.size()))
      throw ConfigError("device", gpu + " asked for, but there are only " +
                                      std::to_string(gpus.size()) + " GPU(s) (indices 0.." +
                                      std::to_string(gpus.size() - 1) + ")");
    return cuda_backend(plugin(), gpus[device.gpu].index);
  }
  // "auto": the first GPU when the driver sees one and the plugin can drive it, else the CPU, with
  // a note when a GPU is there but unusable.
  if (device.kind == DeviceSpec::kAuto && PPMF_WITH_CUDA && driver_sees_a_device()) {
    std::string why;
    const std::vector<GpuInfo> gpus = list_gpus(&why);
    if (!gpus.empty()) {
      try {
        return cuda_backend(plugin(), gpus.front().index);
      } catch (const Error& e) {
        why = e.what();
      }
    }
    if (note) *note = "a GPU is present but unusable (" + why + "); running on the CPU";
  }
  return make_cpu_backend(device.threads);
}

std::unique_ptr<Comm> make_nccl_comm(int gpu, Comm* bootstrap) {
  // Every rank prepares (loads NCCL, selects its GPU) and the ranks agree before the id travels
  // and before the collective init, so one rank without a GPU or NCCL stops all of them.
  std::string error;
  Plugin& p = plugin();
  if (p.make == nullptr)
    error = "NCCL needs the CUDA plugin: " + p.error;
  else if (p.make_nccl == nullptr || p.nccl_prepare == nullptr || p.nccl_unique_id == nullptr)
    error = "this build's CUDA plugin has no NCCL (NCCL was not found when it was built)";
  else if (!p.nccl_prepare(gpu, &error))
    error = "NCCL on GPU " + std::to_string(gpu) + ": " + error;
  std::string id;
  const bool root = bootstrap == nullptr || bootstrap->rank() == 0;
  if (error.empty() && root && !p.nccl_unique_id(&id, &error)) error = "NCCL: " + error;
  if (!error.empty()) {
    if (bootstrap != nullptr) bootstrap->fail(error);
    throw Error(error);
  }
  if (bootstrap != nullptr) id = bootstrap->broadcast(id, 0);  // opens with the agreement
  Comm* c = p.make_nccl(gpu, bootstrap ? bootstrap->rank() : 0, bootstrap ? bootstrap->size() : 1,
                        id, &error);
  if (c == nullptr) throw Error("NCCL on GPU " + std::to_string(gpu) + ": " + error);
  return std::unique_ptr<Comm>(c);
}

}  // namespace ppmf
