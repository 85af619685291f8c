// ppmf-gpu devices: the GPUs this build can use.
#include <cstdio>

#include "cli/common.hpp"
#include "ppmf/devices.hpp"

namespace ppmf::cli {

int cmd_devices(int argc, char** argv) {
  Args args("devices", "",
            "Lists usable GPUs (index, name, memory, SMs, compute capability) or says why there "
            "are none.");
  if (!args.parse(argc, argv)) return 0;
  std::string why;
  const auto gpus = list_gpus(&why);
  if (gpus.empty()) {
    std::printf("no usable GPU: %s\n", why.c_str());
    return 0;
  }
  std::printf("%-5s %-28s %10s %10s %5s %4s\n", "index", "name", "memory", "free", "SMs", "cc");
  for (const auto& g : gpus)
    std::printf("%-5d %-28s %8.1fGB %8.1fGB %5d %d.%d\n", g.index, g.name.c_str(),
                g.total_bytes / 1e9, g.free_bytes / 1e9, g.multiprocessors, g.cc_major, g.cc_minor);
  return 0;
}

}  // namespace ppmf::cli
