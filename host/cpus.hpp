// How many CPUs this process may use: its affinity mask (taskset, numactl, a batch scheduler's
// binding), capped by a cgroup CPU quota (docker --cpus, Kubernetes limits). Threading on every
// hardware thread of a shared or throttled machine makes the threads wait on each other, so "all
// CPUs" (threads = 0) means these.
#pragma once

#include <string>

namespace ppmf {

int usable_cpus();

// The CPUs a cgroup quota allows, rounded up, from the text of cgroup v2's cpu.max ("max 100000",
// "150000 100000") or cgroup v1's quota and period ("-1", "100000"); 0 = no limit or unreadable.
int cpus_of_quota(const std::string& quota, const std::string& period);

}  // namespace ppmf
