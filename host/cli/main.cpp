// ppmf-gpu: the command-line entry point. Dispatches to subcommands; the only place that prints
// errors ("ppmf-gpu: error: ...") and turns them into a non-zero exit.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>

#include "cli/common.hpp"

namespace {

constexpr const char* kUsage =
    "usage: ppmf-gpu <command> [options]\n"
    "\n"
    "Pooled probabilistic matrix factorization trained by stochastic variational inference.\n"
    "\n"
    "commands:\n"
    "  train     train a model (with no --data: on generated AVOD-like data)\n"
    "  eval      score a model on held-out entries (RMSE, MAE, NLL, 90% coverage, by user "
    "history)\n"
    "  predict   predictive mean and sd for (user, item) pairs\n"
    "  recommend top-K items per user, with uncertainty and exploration\n"
    "  foldin    add new users to a model without retraining (exact posterior)\n"
    "  info      summary of a model file\n"
    "  synth     generate AVOD-like data (ratings, groups, true means)\n"
    "  devices   list the GPUs this build can use\n"
    "  bench     training-step throughput on a generated problem, against memory bandwidth\n"
    "\n"
    "Run 'ppmf-gpu <command> --help' for a command's options and defaults.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace ppmf::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char* command = argv[1];
  struct Entry {
    const char* name;
    int (*run)(int, char**);
  };
  const Entry commands[] = {
      {"train", cmd_train},         {"eval", cmd_eval},       {"predict", cmd_predict},
      {"recommend", cmd_recommend}, {"foldin", cmd_foldin},   {"info", cmd_info},
      {"synth", cmd_synth},         {"devices", cmd_devices}, {"bench", cmd_bench}};
  try {
    for (const auto& c : commands)
      if (!std::strcmp(command, c.name)) return c.run(argc - 2, argv + 2);
    std::fprintf(stderr, "ppmf-gpu: error: unknown command '%s'\n%s", command, kUsage);
    return 2;
  } catch (const ppmf::ConfigError& e) {
    std::fprintf(stderr, "ppmf-gpu: error: %s: %s\n", flag_of(e.field()).c_str(), e.detail().c_str());
  } catch (const ppmf::Error& e) {
    std::fprintf(stderr, "ppmf-gpu: error: %s\n", e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "ppmf-gpu: error: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ppmf-gpu: error: %s\n", e.what());
  }
  return 1;
}
