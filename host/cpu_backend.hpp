// The multi-threaded CPU backend: the reference the CUDA backend is tested against, and the
// fallback where no GPU is present.
#pragma once

#include <memory>

#include "ppmf/backend.hpp"

namespace ppmf {

std::unique_ptr<Backend> make_cpu_backend(int threads);

}  // namespace ppmf
