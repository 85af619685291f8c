// A CUDA plugin of another build (a different tag), for the test that the loader refuses it.
#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/devices.hpp"

extern "C" const char* ppmf_cuda_plugin_abi() {
  return "0.0.0+another-build";
}
extern "C" bool ppmf_cuda_plugin_list_gpus(std::vector<ppmf::GpuInfo>*, std::string* why) {
  *why = "the fake plugin was used";
  return false;
}
extern "C" ppmf::Backend* ppmf_cuda_plugin_make_backend(int, std::string* error) {
  *error = "the fake plugin was used";
  return nullptr;
}
