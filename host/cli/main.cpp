// ppmf-gpu: the command-line entry point. Dispatches to subcommands; the only place that prints
// errors ("ppmf-gpu: error: ...") and turns them into a non-zero exit, and the owner of the
// SIGINT / SIGTERM handlers.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>

#include "cli/common.hpp"
#include "ppmf/cancel.hpp"
#include "ppmf/files.hpp"
#include "ppmf/comm_mpi.hpp"

namespace {

// The first SIGINT or SIGTERM asks the library to stop at the next step boundary (training
// writes its checkpoint, outputs are discarded); a second one exits at once, removing the
// temporary files of outputs not yet complete.
extern "C" void on_signal(int sig) {
  if (ppmf::cancel_requested()) {
    ppmf::remove_pending_temp_files();
    constexpr char kLine[] = "ppmf-gpu: interrupted again: exiting now\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, kLine, sizeof kLine - 1);
    ::_exit(128 + sig);
  }
  ppmf::request_cancel(sig);
}

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads and writes go on; the library polls the request
  for (int sig : {SIGINT, SIGTERM}) sigaction(sig, &sa, nullptr);
}

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

// Runs the command; returns its exit code or throws.
int run_command(const char* command, int argc, char** argv) {
  using namespace ppmf::cli;
  struct Entry {
    const char* name;
    int (*run)(int, char**);
  };
  const Entry commands[] = {
      {"train", cmd_train},         {"eval", cmd_eval},       {"predict", cmd_predict},
      {"recommend", cmd_recommend}, {"foldin", cmd_foldin},   {"info", cmd_info},
      {"synth", cmd_synth},         {"devices", cmd_devices}, {"bench", cmd_bench}};
  for (const auto& c : commands) {
    if (std::strcmp(command, c.name) != 0) continue;
    // Under mpirun only training is shared out; any other command runs on rank 0 alone.
    if (!is_rank_zero() && std::strcmp(command, "train") != 0) return 0;
    return c.run(argc - 2, argv + 2);
  }
  if (is_rank_zero())
    std::fprintf(stderr, "ppmf-gpu: error: unknown command '%s'\n%s", command, kUsage);
  return 2;
}

// The one line for an error, and the exit code.
int report(const std::exception& error) {
  if (const auto* c = dynamic_cast<const ppmf::Cancelled*>(&error)) {
    // One line saying what was kept; the shell's convention for death by signal.
    std::fprintf(stderr, "ppmf-gpu: %s\n", c->what());
    const int sig = ppmf::cancel_signal();
    return 128 + (sig > 0 ? sig : SIGINT);
  }
  if (const auto* c = dynamic_cast<const ppmf::ConfigError*>(&error))
    std::fprintf(stderr, "ppmf-gpu: error: %s: %s\n", ppmf::cli::flag_of(c->field()).c_str(),
                 c->detail().c_str());
  else if (dynamic_cast<const std::bad_alloc*>(&error))
    std::fprintf(stderr, "ppmf-gpu: error: out of memory\n");
  else
    std::fprintf(stderr, "ppmf-gpu: error: %s\n", error.what());
  return 1;
}

// A command on every rank of an MPI run: a rank's error reaches every rank (Comm::fail), and
// rank 0 alone prints it, naming the rank; every rank exits non-zero.
int run_on_ranks(ppmf::Comm& comm, const char* command, int argc, char** argv) {
  int failed_code = 1;
  try {
    try {
      const int code = run_command(command, argc, argv);
      comm.finish();
      return code;
    } catch (const ppmf::RemoteFailure&) {
      throw;
    } catch (const ppmf::Cancelled& e) {
      const int sig = ppmf::cancel_signal();  // the interrupted rank keeps the shell's convention
      failed_code = 128 + (sig > 0 ? sig : SIGINT);
      comm.fail(e.what());
    } catch (const std::bad_alloc&) {
      comm.fail("out of memory");
    } catch (const ppmf::ConfigError& e) {
      comm.fail(ppmf::cli::flag_of(e.field()) + ": " + e.detail());
    } catch (const std::exception& e) {
      comm.fail(e.what());
    }
  } catch (const ppmf::RemoteFailure& e) {
    if (comm.rank() == 0) std::fprintf(stderr, "ppmf-gpu: error: %s\n", e.what());
  }
  return failed_code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace ppmf::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  install_signal_handlers();
  try {
    // A launcher's variables without MPI support in this build: one process is fine (srun sets
    // them for ordinary job steps), several would each train alone.
    if (ppmf::launched_by_mpi() && !ppmf::mpi_supported() && ppmf::launched_ranks() > 1)
      throw ppmf::Error("started as one of " + std::to_string(ppmf::launched_ranks()) +
                        " ranks, but this build has no MPI support (install libopenmpi-dev and "
                        "rebuild)");
    if (ppmf::launched_by_mpi() && ppmf::mpi_supported()) {
      const std::unique_ptr<ppmf::MpiSession> mpi = ppmf::open_mpi_session();
      set_run_comm(&mpi->world(), mpi->local_rank());
      const int code = run_on_ranks(mpi->world(), argv[1], argc, argv);
      set_run_comm(nullptr);
      return code;
    }
    return run_command(argv[1], argc, argv);
  } catch (const std::exception& e) {
    return report(e);
  }
}
