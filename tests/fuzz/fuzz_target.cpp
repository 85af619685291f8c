// The libFuzzer entry point of one harness, chosen at compile time (PPMF_FUZZ_HARNESS).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harnesses.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ppmf::fuzz::PPMF_FUZZ_HARNESS(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
