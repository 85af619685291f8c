// See cpus.hpp.
#include "cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <thread>

namespace ppmf {
namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

int cgroup_cpus() {
  // cgroup v2 (one file, "QUOTA PERIOD"), then v1.
  const std::string v2 = first_line("/sys/fs/cgroup/cpu.max");
  if (!v2.empty()) {
    const size_t space = v2.find(' ');
    if (space != std::string::npos) return cpus_of_quota(v2.substr(0, space), v2.substr(space + 1));
  }
  return cpus_of_quota(first_line("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                       first_line("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
}

}  // namespace

int cpus_of_quota(const std::string& quota, const std::string& period) {
  try {
    if (quota.empty() || quota == "max" || period.empty()) return 0;
    const double q = std::stod(quota), p = std::stod(period);
    if (!(q > 0) || !(p > 0)) return 0;  // v1 writes -1 for no limit
    return std::max(1, static_cast<int>(std::ceil(q / p - 1e-9)));
  } catch (const std::exception&) {
    return 0;
  }
}

int usable_cpus() {
  int cpus = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) cpus = CPU_COUNT(&mask);
  const int quota = cgroup_cpus();
  if (quota > 0) cpus = std::min(cpus, quota);
  return std::max(cpus, 1);
}

}  // namespace ppmf
