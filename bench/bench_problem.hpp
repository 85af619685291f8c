// The generated-problem flags shared by the Google Benchmark binaries: --users, --items, --nnz,
// --batch, --threads (CPU) and --device (GPU); every other argument is left for Google Benchmark.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

struct BenchProblem {
  int users, items;
  size_t nnz, batch;
  int threads = 0, device = 0;
};

// Consumes the problem flags into `p`; returns argv without them.
inline std::vector<char*> parse_problem_flags(int argc, char** argv, BenchProblem& p) {
  std::vector<char*> rest{argv[0]};
  for (int k = 1; k < argc; ++k) {
    const std::string a = argv[k];
    auto next = [&]() { return k + 1 < argc ? std::stoll(argv[++k]) : 0LL; };
    if (a == "--users")
      p.users = static_cast<int>(next());
    else if (a == "--items")
      p.items = static_cast<int>(next());
    else if (a == "--nnz")
      p.nnz = static_cast<size_t>(next());
    else if (a == "--batch")
      p.batch = static_cast<size_t>(next());
    else if (a == "--threads")
      p.threads = static_cast<int>(next());
    else if (a == "--device")
      p.device = static_cast<int>(next());
    else
      rest.push_back(argv[k]);
  }
  return rest;
}
