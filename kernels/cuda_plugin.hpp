// The entry points of the CUDA plugin (libppmf_cuda.so), which the library loads at run time only
// when a GPU is asked for (host/backend_factory.cpp), so that programs that run on the CPU never
// load the CUDA runtime or cuBLAS. Host-only header: no CUDA types.
//
// C linkage, so the loader finds them by name; the C++ objects they hand over come from the same
// build of libppmf (checked with kPluginAbi) and the same compiler. No exception crosses them:
// failures come back as false / nullptr and a message.
#pragma once

#include <string>
#include <vector>

#include "ppmf/backend.hpp"
#include "ppmf/comm.hpp"
#include "ppmf/devices.hpp"

extern "C" {

// The build the plugin belongs to; the loader refuses a plugin whose tag differs from its own.
const char* ppmf_cuda_plugin_abi();

// The GPUs this process can use; false with `why` when there are none.
bool ppmf_cuda_plugin_list_gpus(std::vector<ppmf::GpuInfo>* gpus, std::string* why);

// A CUDA backend on device `device`, or nullptr with the reason in `error`. The caller owns it.
ppmf::Backend* ppmf_cuda_plugin_make_backend(int device, std::string* error);

// Only in plugins built with NCCL (libppmf sets the communicator up: comm.hpp, make_nccl_comm).
// prepare: loads NCCL and selects `device`; unique_id: a new communicator id (on rank 0); make:
// this rank's NCCL transport (`id`: unique_id's bytes), collective over the ranks. Each returns
// false / nullptr with the reason in `error`; the caller owns the Comm.
bool ppmf_cuda_plugin_nccl_prepare(int device, std::string* error);
bool ppmf_cuda_plugin_nccl_unique_id(std::string* id, std::string* error);
ppmf::Comm* ppmf_cuda_plugin_make_nccl_comm(int device, int rank, int size, const std::string& id,
                                            std::string* error);
}
