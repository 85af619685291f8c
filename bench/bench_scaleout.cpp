// The scale-out performance model (perf_model.hpp: predict_scaleout) for a problem and a machine
// given on the command line: per P, the epoch's compute and communication time, the bytes each
// rank moves, entries/s per rank and what limits the epoch. The defaults are the paper case of
// bench/RESULTS.md: 10 billion entries at rank 64 on H100s (NVLink in a node, 400 Gb/s
// InfiniBand per GPU between nodes).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ppmf/perf_model.hpp"

namespace {

void usage() {
  std::puts(
      "usage: bench_scaleout [--entries N] [--users N] [--items N] [--rank D] [--groups G]\n"
      "                      [--ranks P,P,...] [--ranks-per-node R] [--flops F] [--intra B]\n"
      "                      [--inter B] [--latency S]\n"
      "  --entries   observed entries (default 1e10)\n"
      "  --users     users (default 2.5e7)\n"
      "  --items     items (default 1e5)\n"
      "  --rank      model rank (default 64)\n"
      "  --groups    user groups (default 8)\n"
      "  --ranks     the P to predict (default 8,64)\n"
      "  --ranks-per-node  ranks sharing a node's links (default 8)\n"
      "  --flops     one rank's sustained flops/s on the sweeps (default 1.7e13: half of an\n"
      "              H100 SXM's 34 TFLOPS of FP64, in which the GPU kernel accumulates)\n"
      "  --intra     bytes/s per rank to ranks on its node (default 3e11: NVLink 4, ~2/3 of\n"
      "              its 450 GB/s per direction)\n"
      "  --inter     bytes/s per rank to other nodes (default 4.5e10: one 400 Gb/s NIC per\n"
      "              GPU at 90%)\n"
      "  --latency   seconds per collective (default 3e-5)");
}

}  // namespace

int main(int argc, char** argv) {
  ppmf::ScaleOut s;
  s.entries = 1e10;
  s.users = 2.5e7;
  s.items = 1e5;
  s.rank = 64;
  s.user_groups = 8;
  s.ranks_per_node = 8;
  s.flops_per_s = 1.7e13;
  s.intra_bytes_per_s = 3e11;
  s.inter_bytes_per_s = 4.5e10;
  s.latency_s = 3e-5;
  std::vector<int> ranks = {8, 64};
  for (int a = 1; a < argc; ++a) {
    const std::string flag = argv[a];
    if (flag == "--help") {
      usage();
      return 0;
    }
    if (a + 1 >= argc) {
      std::fprintf(stderr, "bench_scaleout: %s needs a value\n", flag.c_str());
      return 2;
    }
    const char* v = argv[++a];
    if (flag == "--entries") s.entries = std::atof(v);
    else if (flag == "--users") s.users = std::atof(v);
    else if (flag == "--items") s.items = std::atof(v);
    else if (flag == "--rank") s.rank = std::atoi(v);
    else if (flag == "--groups") s.user_groups = std::atoi(v);
    else if (flag == "--ranks-per-node") s.ranks_per_node = std::atoi(v);
    else if (flag == "--flops") s.flops_per_s = std::atof(v);
    else if (flag == "--intra") s.intra_bytes_per_s = std::atof(v);
    else if (flag == "--inter") s.inter_bytes_per_s = std::atof(v);
    else if (flag == "--latency") s.latency_s = std::atof(v);
    else if (flag == "--ranks") {
      ranks.clear();
      for (const char* p = v; *p;) {
        ranks.push_back(std::atoi(p));
        p = std::strchr(p, ',');
        if (!p) break;
        ++p;
      }
    } else {
      std::fprintf(stderr, "bench_scaleout: unknown option %s\n", flag.c_str());
      usage();
      return 2;
    }
  }
  std::printf("# %.3g entries, %.3g users, %.3g items, rank %d; %.3g flop/s per rank, links "
              "%.3g / %.3g B/s per rank (node / network), %d ranks per node\n",
              s.entries, s.users, s.items, s.rank, s.flops_per_s, s.intra_bytes_per_s,
              s.inter_bytes_per_s, s.ranks_per_node);
  std::printf("%6s %12s %12s %12s %14s %16s  %s\n", "P", "epoch_s", "compute_s", "comm_s",
              "MB/rank/epoch", "entries/s/rank", "limit");
  for (const int P : ranks) {
    s.ranks = P;
    const ppmf::ScaleOutPrediction p = ppmf::predict_scaleout(s);
    std::printf("%6d %12.4f %12.4f %12.4f %14.1f %16.3g  %s\n", P, p.epoch_seconds,
                p.compute_seconds, p.comm_seconds, p.bytes_per_rank / 1e6,
                p.entries_per_s_per_rank,
                p.comm_seconds > p.compute_seconds ? "communication" : "compute");
  }
  return 0;
}
