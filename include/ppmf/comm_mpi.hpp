// Distributed training over MPI. The transport (host/comm_mpi.cpp) lives in libppmf_mpi, built when
// CMake finds MPI (PPMF_WITH_MPI); libppmf loads it only when asked, so neither libppmf nor the
// CLI links MPI, and a run without mpirun pays nothing for it.
#pragma once

#include <memory>

#include "ppmf/comm.hpp"

namespace ppmf {

// True when an MPI launcher started this process (its rank variables are set).
bool launched_by_mpi();
// The number of ranks the launcher says it started (0: it does not say).
int launched_ranks();
// Whether this build has distributed training over MPI (libppmf_mpi was built).
bool mpi_supported();

// An open MPI session: MPI_Init_thread (funneled: only the thread that opened it calls MPI) when
// opened, MPI_Finalize when destroyed. One per process.
class MpiSession {
 public:
  virtual ~MpiSession() = default;
  // MPI_COMM_WORLD as a Comm (errors returned, checked and thrown as Error naming the call).
  virtual Comm& world() = 0;
  // This rank's index among the ranks on its node (for choosing a GPU: local rank mod GPUs).
  virtual int local_rank() const = 0;
};

// Loads libppmf_mpi (beside libppmf, or $PPMF_MPI_LIBRARY) and opens the session. Throws Error
// when this build has no MPI support or the library cannot be loaded.
std::unique_ptr<MpiSession> open_mpi_session();

}  // namespace ppmf

// The entry points of libppmf_mpi: the build it belongs to, and a new session (null and *error
// set on failure).
extern "C" const char* ppmf_mpi_build_id();
extern "C" ppmf::MpiSession* ppmf_mpi_open_session(std::string* error);
